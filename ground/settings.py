"""Connection settings shared by the CLI, the workers and docker-compose.

Every value comes from an environment variable (the same names docker-compose sets) or
its default, read once by :meth:`Settings.from_env`. Secrets are :class:`Secret` values:
their ``repr`` and ``str`` never show the value. Kafka clients are configured by
:class:`~ground.kafka_config.KafkaConfig` (``settings.kafka``): ``SHARDLINE_KAFKA_BOOTSTRAP``
plus the librdkafka properties of ``SHARDLINE_KAFKA_CONFIG_FILE`` and ``SHARDLINE_KAFKA_*``.

S3: ``SHARDLINE_S3_ENDPOINT`` empty (or ``aws``) means AWS S3 in ``SHARDLINE_S3_REGION``;
``SHARDLINE_S3_ADDRESSING`` picks path-style or virtual-hosted URLs; how the client
authenticates (static keys, the AWS credential chain, AssumeRole) is
:class:`~ground.aws_credentials.AwsCredentialOptions` (``settings.s3_auth``). The search
engine's authentication and TLS are :class:`~ground.search_auth.SearchAuth`
(``settings.search_auth``); a ``user:password@`` in ``SHARDLINE_SEARCH_URL`` moves there.
With ``SHARDLINE_STACK_SECURE`` the search URL defaults to ``https://`` and the client to the
secured local stack's superuser and CA; so does the S3 endpoint (the secured stack's MinIO
serves TLS), its client trusting ``SHARDLINE_S3_CA_BUNDLE`` (default: the stack's CA).
``SHARDLINE_STARTUP_WAIT_MS`` is how long a worker waits at start-up for a server that is
down (:class:`~ground.startup.StartupWait`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

from ground.aws_credentials import AwsCredentialOptions
from ground.errors import ConfigError
from ground.kafka_config import KafkaConfig
from ground.search_auth import SearchAuth
from ground.secret import Secret, redact_url, split_userinfo
from ground.startup import StartupWait

__all__ = [
    "DEFAULTS",
    "ENV_PREFIX",
    "S3_ADDRESSING",
    "SECURE_SEARCH_PASSWORD",
    "SECURE_SEARCH_USERNAME",
    "Secret",
    "Settings",
    "aws_s3_endpoint",
    "s3_stack_ca",
    "search_stack_ca",
]

ENV_PREFIX = "SHARDLINE_"

# Loopback ports away from the usual defaults, so a developer's own Kafka/MinIO/ES keep theirs.
DEFAULTS: dict[str, str] = {
    "KAFKA_BOOTSTRAP": "127.0.0.1:19092",
    "KAFKA_CONTROLLER_PORT": "19093",
    "KAFKA_SECURE_PORT": "19094",  # the local stack's SASL_SSL listener (stack up --secure)
    "KAFKA_CONFIG_FILE": "",
    "KAFKA_AWS_REGION": "",
    "S3_ENDPOINT": "http://127.0.0.1:19000",
    "S3_CONSOLE_PORT": "19001",
    "S3_REGION": "us-east-1",
    "S3_ACCESS_KEY": "shardline",
    "S3_SECRET_KEY": "shardline-secret-key",
    "SEARCH_URL": "http://127.0.0.1:19200",
    "SEARCH_TRANSPORT_PORT": "19300",
    "SEARCH_ENGINE": "elasticsearch",
    "SEARCH_USER": "shardline",
    "HOME": ".shardline",
    "CACHE": "~/.cache/shardline",
    # Schemas: the user's .avsc folder and a Confluent-compatible schema registry (both off
    # by default: the bundled schemas and their fixed ids), and the local stack's registry.
    "SCHEMA_DIR": "",
    "SCHEMA_REGISTRY_URL": "",
    "SCHEMA_REGISTRY_USER": "",
    "SCHEMA_REGISTRY_PASSWORD": "",
    "SCHEMA_REGISTRY_CA": "",
    "SCHEMA_REGISTRY_PORT": "19081",
    "STACK_SECURE": "0",  # 1: the local stack adds its secured listeners
}

SEARCH_ENGINES = ("elasticsearch", "opensearch")
#: The secured local stack's Elasticsearch superuser, when no other credential is set.
SECURE_SEARCH_USERNAME = "shardline"
SECURE_SEARCH_PASSWORD = "shardline-search-password"
_SEARCH_CREDENTIALS = ("AUTH", "USERNAME", "PASSWORD", "API_KEY", "BEARER_TOKEN")
#: auto: virtual-hosted for AWS endpoints (``*.amazonaws.com``), path-style elsewhere (MinIO).
S3_ADDRESSING = ("auto", "path", "virtual")


def aws_s3_endpoint(region: str) -> str:
    """AWS S3's regional endpoint (``https://s3.<region>.amazonaws.com``; ``.com.cn`` in
    the China regions)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://s3.{region}.{suffix}"


#: Where Apicurio Registry serves the Confluent Schema Registry API.
LOCAL_REGISTRY_API_PATH = "/apis/ccompat/v7"


def _port(name: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(ENV_PREFIX + name, f"not a port number: {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(ENV_PREFIX + name, f"port out of range: {port}")
    return port


def _path(value: str) -> Path | None:
    return Path(value).expanduser().resolve() if value else None


class _SchemaFields(TypedDict):
    schema_dir: Path | None
    schema_registry_url: str
    schema_registry_user: str
    schema_registry_password: Secret | None
    schema_registry_ca: Path | None
    schema_registry_port: int


def _schema_settings(get: Callable[[str], str]) -> _SchemaFields:
    """The ``schema_*`` fields: a registry URL must not carry credentials (they would be
    shown wherever the URL is), a user needs a password and the other way round."""
    url = get("SCHEMA_REGISTRY_URL")
    if url:
        if "@" in urlsplit(url).netloc:  # checked first: the message must not echo the URL
            raise ConfigError(
                ENV_PREFIX + "SCHEMA_REGISTRY_URL",
                "must not hold credentials: set SHARDLINE_SCHEMA_REGISTRY_USER and "
                "SHARDLINE_SCHEMA_REGISTRY_PASSWORD",
            )
        url = _url("SCHEMA_REGISTRY_URL", url)
    user, password = get("SCHEMA_REGISTRY_USER"), get("SCHEMA_REGISTRY_PASSWORD")
    if bool(user) != bool(password):
        missing = "SCHEMA_REGISTRY_PASSWORD" if user else "SCHEMA_REGISTRY_USER"
        raise ConfigError(ENV_PREFIX + missing, "must be set too (basic authentication)")
    return {
        "schema_dir": _path(get("SCHEMA_DIR")),
        "schema_registry_url": url,
        "schema_registry_user": user,
        "schema_registry_password": Secret(password) if password else None,
        "schema_registry_ca": _path(get("SCHEMA_REGISTRY_CA")),
        "schema_registry_port": _port("SCHEMA_REGISTRY_PORT", get("SCHEMA_REGISTRY_PORT")),
    }


def _flag(name: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(ENV_PREFIX + name, f"expected 1 or 0, got {value!r}")


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(ENV_PREFIX + name,
                          f"expected http(s)://host:port, got {redact_url(value)!r}")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class Settings:
    kafka: KafkaConfig
    kafka_controller_port: int
    s3_endpoint: str
    s3_console_port: int
    s3_region: str
    s3_access_key: Secret = field(repr=False)
    s3_secret_key: Secret = field(repr=False)
    s3_addressing: str = "auto"
    s3_auth: AwsCredentialOptions = AwsCredentialOptions()
    s3_ca_bundle: Path | None = None
    search_url: str = ""
    search_transport_port: int = 0
    search_engine: str = "elasticsearch"
    search_user: str = "shardline"
    search_auth: SearchAuth = SearchAuth()
    home: Path = Path(".shardline")
    cache: Path = Path("~/.cache/shardline")
    schema_dir: Path | None = None
    schema_registry_url: str = ""
    schema_registry_user: str = ""
    schema_registry_password: Secret | None = field(default=None, repr=False)
    schema_registry_ca: Path | None = None
    schema_registry_port: int = 19081
    kafka_secure_port: int = 19094
    stack_secure: bool = False
    #: how long a worker waits at start-up for Kafka, S3 or the search cluster while it is
    #: unreachable or answers 5xx (``SHARDLINE_STARTUP_WAIT_MS``)
    startup_wait: StartupWait = StartupWait()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: the process environment)."""
        src = os.environ if env is None else env

        def get(name: str) -> str:
            return src.get(ENV_PREFIX + name, DEFAULTS[name]).strip()

        kafka = KafkaConfig.from_env(src, default_bootstrap=DEFAULTS["KAFKA_BOOTSTRAP"])
        engine = get("SEARCH_ENGINE").lower()
        if engine not in SEARCH_ENGINES:
            raise ConfigError(
                ENV_PREFIX + "SEARCH_ENGINE", f"one of {SEARCH_ENGINES}, got {engine!r}"
            )
        region = get("S3_REGION")
        if not region:
            raise ConfigError(ENV_PREFIX + "S3_REGION", "must not be empty")
        secure = _flag("STACK_SECURE", get("STACK_SECURE"))
        home = Path(get("HOME")).expanduser().resolve()
        endpoint = get("S3_ENDPOINT")
        endpoint = aws_s3_endpoint(region) if endpoint.lower() in ("", "aws") else endpoint
        if secure and ENV_PREFIX + "S3_ENDPOINT" not in src:
            endpoint = endpoint.replace("http://", "https://", 1)
        s3_ca_bundle = _s3_ca_bundle(src, home, secure)
        addressing = src.get(ENV_PREFIX + "S3_ADDRESSING", "auto").strip().lower()
        if addressing not in S3_ADDRESSING:
            raise ConfigError(ENV_PREFIX + "S3_ADDRESSING",
                              f"one of {S3_ADDRESSING}, got {addressing!r}")
        access, secret = get("S3_ACCESS_KEY"), get("S3_SECRET_KEY")
        if not access:
            raise ConfigError(ENV_PREFIX + "S3_ACCESS_KEY", "must not be empty")
        if len(secret) < 8:
            raise ConfigError(ENV_PREFIX + "S3_SECRET_KEY", "must be at least 8 characters")
        raw_url = get("SEARCH_URL")
        if secure and ENV_PREFIX + "SEARCH_URL" not in src:
            raw_url = raw_url.replace("http://", "https://", 1)
        search_url, url_user, url_password = split_userinfo(_url("SEARCH_URL", raw_url))
        search_env: Mapping[str, str] = src
        if secure:
            if not search_url.startswith("https://"):
                raise ConfigError(ENV_PREFIX + "SEARCH_URL", "the secured stack"
                                  f" ({ENV_PREFIX}STACK_SECURE) serves HTTPS: use https://")
            search_env = _secure_search_defaults(src, home, url_user is not None)
        search_auth = SearchAuth.from_env(search_env, default_region=region,
                                          url_username=url_user, url_password=url_password)
        return cls(
            kafka=kafka,
            kafka_controller_port=_port("KAFKA_CONTROLLER_PORT", get("KAFKA_CONTROLLER_PORT")),
            s3_endpoint=_url("S3_ENDPOINT", endpoint),
            s3_console_port=_port("S3_CONSOLE_PORT", get("S3_CONSOLE_PORT")),
            s3_region=region,
            s3_access_key=Secret(access),
            s3_secret_key=Secret(secret),
            s3_addressing=addressing,
            s3_auth=AwsCredentialOptions.from_env(src, ENV_PREFIX + "S3_"),
            s3_ca_bundle=s3_ca_bundle,
            search_url=search_url,
            search_transport_port=_port("SEARCH_TRANSPORT_PORT", get("SEARCH_TRANSPORT_PORT")),
            search_engine=engine,
            search_user=get("SEARCH_USER"),
            search_auth=search_auth,
            home=home,
            cache=Path(get("CACHE")).expanduser(),
            **_schema_settings(get),
            kafka_secure_port=_port("KAFKA_SECURE_PORT", get("KAFKA_SECURE_PORT")),
            stack_secure=secure,
            startup_wait=StartupWait.from_env(src),
        )

    @property
    def kafka_bootstrap(self) -> str:
        """The brokers every client connects to (``SHARDLINE_KAFKA_BOOTSTRAP``)."""
        return self.kafka.bootstrap

    @property
    def search_stack_ca(self) -> Path:
        """Where the secured local stack puts the CA certificate its Elasticsearch's is
        signed by (the default ``SHARDLINE_SEARCH_CA_BUNDLE`` with STACK_SECURE)."""
        return search_stack_ca(self.home)

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.split(",")[0].rpartition(":")[2])

    @property
    def s3_port(self) -> int:
        return _port_of(self.s3_endpoint)

    @property
    def search_port(self) -> int:
        return _port_of(self.search_url)

    @property
    def local_schema_registry_url(self) -> str:
        """The Confluent-compatible API of the local stack's registry (``stack up``)."""
        return f"http://127.0.0.1:{self.schema_registry_port}{LOCAL_REGISTRY_API_PATH}"

    def faust_datadir(self, app_id: str) -> str:
        """Where a Faust app keeps its local data: under ``home``, not ``<app id>-data`` in
        the working directory (Faust's default). The parent folder is created here."""
        folder = self.home / "faust"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / app_id)


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def search_stack_ca(home: Path) -> Path:
    return home / "search" / "tls" / "ca.crt"


def s3_stack_ca(home: Path) -> Path:
    """The CA certificate the secured local stack's MinIO certificate is signed by."""
    return home / "minio" / "tls" / "ca.crt"


def _s3_ca_bundle(src: Mapping[str, str], home: Path, secure: bool) -> Path | None:
    """``SHARDLINE_S3_CA_BUNDLE`` (a PEM file the S3 and STS clients trust instead of the
    system's CAs); with the secured stack, its MinIO's CA when that exists."""
    name = ENV_PREFIX + "S3_CA_BUNDLE"
    raw = src.get(name, "").strip()
    if not raw:
        return s3_stack_ca(home) if secure and s3_stack_ca(home).is_file() else None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(name, f"no such file: {path}")
    return path


def _secure_search_defaults(
    src: Mapping[str, str], home: Path, url_credentials: bool
) -> Mapping[str, str]:
    """``src`` with the secured local stack's defaults for what it does not set: its CA,
    and (when no credential is given at all) basic auth as the stack's superuser."""
    search = ENV_PREFIX + "SEARCH_"
    overlay: dict[str, str] = {}
    if not src.get(search + "CA_BUNDLE") and search_stack_ca(home).is_file():
        overlay[search + "CA_BUNDLE"] = str(search_stack_ca(home))
    if not url_credentials and not any(src.get(search + n) for n in _SEARCH_CREDENTIALS):
        overlay[search + "USERNAME"] = SECURE_SEARCH_USERNAME
        overlay[search + "PASSWORD"] = SECURE_SEARCH_PASSWORD
    return {**src, **overlay} if overlay else src
