"""Connection settings shared by the CLI, the workers and docker-compose.

Every value comes from an environment variable (the same names docker-compose sets) or
its default, read once by :meth:`Settings.from_env`. Secrets are :class:`Secret` values:
their ``repr`` and ``str`` never show the value. Kafka clients are configured by
:class:`~ground.kafka_config.KafkaConfig` (``settings.kafka``): ``SHARDLINE_KAFKA_BOOTSTRAP``
plus the librdkafka properties of ``SHARDLINE_KAFKA_CONFIG_FILE`` and ``SHARDLINE_KAFKA_*``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ground.errors import ConfigError
from ground.kafka_config import KafkaConfig
from ground.secret import Secret

__all__ = ["DEFAULTS", "ENV_PREFIX", "Secret", "Settings"]

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
    "STACK_SECURE": "0",  # 1: the local stack adds its secured listeners
}

SEARCH_ENGINES = ("elasticsearch", "opensearch")


def _port(name: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(ENV_PREFIX + name, f"not a port number: {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(ENV_PREFIX + name, f"port out of range: {port}")
    return port


def _flag(name: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(ENV_PREFIX + name, f"expected 1 or 0, got {value!r}")


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(ENV_PREFIX + name, f"expected http(s)://host:port, got {value!r}")
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
    search_url: str = ""
    search_transport_port: int = 0
    search_engine: str = "elasticsearch"
    search_user: str = "shardline"
    home: Path = Path(".shardline")
    cache: Path = Path("~/.cache/shardline")
    kafka_secure_port: int = 19094
    stack_secure: bool = False

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
        access, secret = get("S3_ACCESS_KEY"), get("S3_SECRET_KEY")
        if not access:
            raise ConfigError(ENV_PREFIX + "S3_ACCESS_KEY", "must not be empty")
        if len(secret) < 8:
            raise ConfigError(ENV_PREFIX + "S3_SECRET_KEY", "must be at least 8 characters")
        return cls(
            kafka=kafka,
            kafka_controller_port=_port("KAFKA_CONTROLLER_PORT", get("KAFKA_CONTROLLER_PORT")),
            s3_endpoint=_url("S3_ENDPOINT", get("S3_ENDPOINT")),
            s3_console_port=_port("S3_CONSOLE_PORT", get("S3_CONSOLE_PORT")),
            s3_region=get("S3_REGION"),
            s3_access_key=Secret(access),
            s3_secret_key=Secret(secret),
            search_url=_url("SEARCH_URL", get("SEARCH_URL")),
            search_transport_port=_port("SEARCH_TRANSPORT_PORT", get("SEARCH_TRANSPORT_PORT")),
            search_engine=engine,
            search_user=get("SEARCH_USER"),
            home=Path(get("HOME")).expanduser().resolve(),
            cache=Path(get("CACHE")).expanduser(),
            kafka_secure_port=_port("KAFKA_SECURE_PORT", get("KAFKA_SECURE_PORT")),
            stack_secure=_flag("STACK_SECURE", get("STACK_SECURE")),
        )

    @property
    def kafka_bootstrap(self) -> str:
        """The brokers every client connects to (``SHARDLINE_KAFKA_BOOTSTRAP``)."""
        return self.kafka.bootstrap

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.split(",")[0].rpartition(":")[2])

    @property
    def s3_port(self) -> int:
        return urlsplit(self.s3_endpoint).port or 80

    @property
    def search_port(self) -> int:
        return urlsplit(self.search_url).port or 80

    def faust_datadir(self, app_id: str) -> str:
        """Where a Faust app keeps its local data: under ``home``, not ``<app id>-data`` in
        the working directory (Faust's default). The parent folder is created here."""
        folder = self.home / "faust"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / app_id)
