"""Every Kafka client's configuration, built in one place.

All of Shardline's Kafka clients (the producer, the SQL runtime's consumer, transactional
producer and changelog readers, the delivery workers, the admin helpers of
:mod:`ground.kafka`, ``shardline status``, the demo's checks and the tests) take their
configuration from :meth:`KafkaConfig.client_config`:

1. ``bootstrap.servers`` from ``SHARDLINE_KAFKA_BOOTSTRAP``;
2. the client's tuning defaults (e.g. :func:`consumer_fetch_config`);
3. the deployment's librdkafka properties (security, TLS, timeouts, ...), from
   ``SHARDLINE_KAFKA_CONFIG_FILE`` (a Java properties file: the ``--command-config`` /
   ``client.properties`` convention of Kafka's own tools) and then, overriding the file,
   ``SHARDLINE_KAFKA_<PROPERTY>`` variables;
4. what the client itself needs for its guarantees (group and transactional ids, isolation,
   manual commits): these always win.

A variable names its property upper-cased, ``.`` written ``_``; ``__`` stands for ``_`` and
``___`` for ``-`` (the convention of Confluent's container images): ``SASL_MECHANISM`` is
``sasl.mechanism``, ``SSL_CA_LOCATION`` is ``ssl.ca.location``. The names in
:data:`SETTING_NAMES` (``SHARDLINE_KAFKA_BOOTSTRAP``, ``_CONFIG_FILE``, ...) are Shardline's
settings, not properties. An empty variable is ignored.

What a librdkafka client cannot read from a Java client's file is translated where it has a
meaning: a ``sasl.jaas.config`` of ``PlainLoginModule``/``ScramLoginModule`` gives
``sasl.username``/``sasl.password``, MSK's ``IAMLoginModule`` selects MSK IAM (with its
``awsProfileName``/``awsRoleArn`` options); a few Java-only names are ignored
(:data:`IGNORED_JAVA_PROPERTIES`), the rest is refused with a hint. Every property is then
checked by librdkafka itself at start-up, so a typo or a missing CA file is a
:class:`~ground.errors.ConfigError` naming the variable or the file's line.

``sasl.mechanism=AWS_MSK_IAM`` selects Amazon MSK's IAM authentication: OAUTHBEARER over
TLS with tokens from :class:`~ground.msk_iam.MskIamTokenProvider`, in the region of
``SHARDLINE_KAFKA_AWS_REGION`` (else ``AWS_REGION``/``AWS_DEFAULT_REGION``).

Secrets (every property whose name holds ``password`` or ``secret``, private keys, JAAS
lines) are :class:`~ground.secret.Secret` values: ``repr``, :meth:`KafkaConfig.describe`,
logs and errors show ``***``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from ground.errors import ConfigError
from ground.java_properties import parse_properties
from ground.msk_iam import (
    DEFAULT_ROLE_SESSION_NAME,
    MSK_IAM_MECHANISM,
    MskIamTokenProvider,
)
from ground.secret import REDACTED, Secret

__all__ = [
    "BOOTSTRAP_VARIABLE",
    "CONFIG_FILE_VARIABLE",
    "ENV_PREFIX",
    "FETCH_QUEUE_BACKOFF_MS",
    "IGNORED_JAVA_PROPERTIES",
    "KafkaConfig",
    "KafkaProperty",
    "PARTITION_FETCH_MAX_BYTES",
    "PREFETCH_MAX_BYTES",
    "QUIET_LOGGER",
    "SETTING_NAMES",
    "consumer_fetch_config",
    "error_text",
    "is_secret",
    "property_name",
    "variable_name",
]

log = logging.getLogger(__name__)

ENV_PREFIX = "SHARDLINE_KAFKA_"
CONFIG_FILE_VARIABLE = ENV_PREFIX + "CONFIG_FILE"
BOOTSTRAP_VARIABLE = ENV_PREFIX + "BOOTSTRAP"
REGION_VARIABLE = ENV_PREFIX + "AWS_REGION"
#: names under ``SHARDLINE_KAFKA_`` that are Shardline settings, not librdkafka properties
SETTING_NAMES = frozenset({"BOOTSTRAP", "CONTROLLER_PORT", "SECURE_PORT", "CONFIG_FILE",
                           "AWS_REGION"})

MIB = 1024 * 1024
#: librdkafka's pre-fetch queue at most (more bought no throughput, see below)
PREFETCH_MAX_BYTES = 32 * MIB
#: librdkafka's default ``max.partition.fetch.bytes``
PARTITION_FETCH_MAX_BYTES = MIB
#: librdkafka's default (1 s) stalls a partition whose queue passed ``queued.min.messages``
FETCH_QUEUE_BACKOFF_MS = 20

#: Java-client properties with no librdkafka meaning, ignored (with a log line) in a file
IGNORED_JAVA_PROPERTIES = frozenset({
    "client.dns.lookup",
    "sasl.client.callback.handler.class",  # MSK IAM's handler; accepted with AWS_MSK_IAM only
})
_JAVA_HINTS = {
    "ssl.truststore.location": "librdkafka reads PEM: export the CA (keytool -exportcert -rfc) "
                               "and give ssl.ca.location",
    "ssl.truststore.type": "librdkafka reads PEM: give the CA file as ssl.ca.location",
    "ssl.truststore.password": "librdkafka reads PEM: give the CA file as ssl.ca.location",
    "ssl.keystore.type": "librdkafka reads a PKCS#12 ssl.keystore.location, or PEM "
                         "ssl.certificate.location and ssl.key.location",
    "sasl.login.callback.handler.class": "use librdkafka's sasl.oauthbearer.method=oidc",
}
_ALIASES = {"sasl.mechanisms": "sasl.mechanism", "metadata.broker.list": "bootstrap.servers"}
_SECRET_NAMES = frozenset({"sasl.jaas.config", "sasl.oauthbearer.config", "ssl.key.pem",
                           "ssl_key"})
_SECRET_WORDS = ("password", "secret")


def property_name(suffix: str) -> str:
    """The librdkafka property of ``SHARDLINE_KAFKA_<suffix>``: ``SASL_MECHANISM`` ->
    ``sasl.mechanism``; ``__`` is ``_`` and ``___`` is ``-``."""
    marks = {1: ".", 2: "_", 3: "-"}
    return re.sub(r"_{1,3}", lambda m: marks[len(m.group())], suffix.lower())


def variable_name(prop: str) -> str:
    """The variable that sets ``prop`` (the inverse of :func:`property_name`)."""
    marks = {".": "_", "_": "__", "-": "___"}
    return ENV_PREFIX + "".join(marks.get(c, c) for c in prop).upper()


def is_secret(prop: str) -> bool:
    """Whether the value of ``prop`` is a secret (shown as ``***``)."""
    return prop in _SECRET_NAMES or any(word in prop for word in _SECRET_WORDS)


def consumer_fetch_config(prefetch_bytes: int = PREFETCH_MAX_BYTES) -> dict[str, int]:
    """The fetch tuning of every long-running consumer, librdkafka's pre-fetch queue bounded
    to ``prefetch_bytes`` (one fetch response at most that much).

    Left at its defaults, librdkafka pre-fetches hundreds of MB for a few busy partitions
    (~690 MB RSS for a delivery consume loop that held nothing itself). Larger fetches and
    ``queued.min.messages`` 1M bought the SQL runtime no throughput and cost ~300 MB of RSS
    (``benchmarks/sql_tumbling.py``: 273k records/s at 206 MB peak vs 273k at 507 MB).
    ``fetch.queue.backoff.ms`` 20: librdkafka's default (1 s) pauses fetching a partition
    whose queue passed ``queued.min.messages``, which capped a busy consumer at ~130k
    records/s.
    """
    if prefetch_bytes < 1024:
        raise ConfigError("prefetch_bytes", f"at least 1 KiB, got {prefetch_bytes}")
    return {
        "queued.max.messages.kbytes": prefetch_bytes // 1024,
        "fetch.max.bytes": prefetch_bytes,
        "max.partition.fetch.bytes": min(PARTITION_FETCH_MAX_BYTES, prefetch_bytes),
        "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
    }


@dataclass(frozen=True, slots=True)
class KafkaProperty:
    """One librdkafka property, with where it was set (a variable, or a file's line)."""

    name: str
    value: str | Secret
    origin: str = field(compare=False)  # where it was set: not part of what it configures

    def reveal(self) -> str:
        return self.value.reveal() if isinstance(self.value, Secret) else self.value

    def shown(self) -> str:
        return REDACTED if isinstance(self.value, Secret) else self.value


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """Where Kafka is and how to reach it: the bootstrap servers, the deployment's
    librdkafka properties and, for MSK IAM, the token provider."""

    bootstrap: str
    properties: tuple[KafkaProperty, ...] = ()
    oauth: MskIamTokenProvider | None = field(default=None)

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str], *, default_bootstrap: str) -> KafkaConfig:
        """Read ``SHARDLINE_KAFKA_*`` (and the properties file it names) from ``env``."""
        bootstrap = _bootstrap(env.get(BOOTSTRAP_VARIABLE, "").strip() or default_bootstrap)
        props: dict[str, KafkaProperty] = {}
        path = env.get(CONFIG_FILE_VARIABLE, "").strip()
        if path:
            for prop in _read_file(Path(path).expanduser()):
                props[prop.name] = prop
        for var in sorted(env):
            suffix = var[len(ENV_PREFIX):]
            if not var.startswith(ENV_PREFIX) or suffix in SETTING_NAMES:
                continue
            value = env[var].strip()
            if not value:
                continue
            name = property_name(suffix)
            name = _ALIASES.get(name, name)
            props[name] = KafkaProperty(name, Secret(value) if is_secret(name) else value, var)
        _check_bootstrap_property(props.pop("bootstrap.servers", None), bootstrap)
        props = _translate_jaas(props)
        oauth = _msk_iam(props, env)
        config = cls(bootstrap, tuple(props.values()), oauth)
        if config.properties:
            config.validate()
        return config

    def with_bootstrap(self, bootstrap: str) -> KafkaConfig:
        """The same properties against other brokers (tests, the local stack)."""
        return replace(self, bootstrap=_bootstrap(bootstrap))

    def with_properties(self, values: Mapping[str, str], origin: str) -> KafkaConfig:
        """These properties added (or replacing the same names), set by ``origin``."""
        kept = [p for p in self.properties if p.name not in values]
        added = [KafkaProperty(k, Secret(v) if is_secret(k) else v, origin)
                 for k, v in values.items()]
        return replace(self, properties=(*kept, *added))

    # -- use -------------------------------------------------------------------------------
    def client_config(
        self, settings: Mapping[str, Any] | None = None, *, tuning: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A confluent-kafka client's configuration: bootstrap, ``tuning`` (defaults the
        deployment may override), the deployment's properties, then ``settings`` (what the
        client needs, never overridden). Holds secrets in clear: never log it."""
        conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap, **(tuning or {})}
        for prop in self.properties:
            conf[prop.name] = prop.reveal()
        if self.oauth is not None:
            conf["oauth_cb"] = self.oauth
        conf.update(settings or {})
        return conf

    def get(self, name: str, default: str = "") -> str:
        """A property's value as librdkafka gets it (``default`` when not set)."""
        for prop in self.properties:
            if prop.name == name:
                return prop.reveal()
        return default

    @property
    def security_protocol(self) -> str:
        return self.get("security.protocol", "plaintext").upper()

    @property
    def sasl_mechanism(self) -> str:
        if self.oauth is not None:
            return MSK_IAM_MECHANISM
        return self.get("sasl.mechanism", "GSSAPI").upper()

    def origin(self, name: str) -> str:
        """Where ``name`` was set, or the variable that would set it."""
        for prop in self.properties:
            if prop.name == name:
                return prop.origin
        return variable_name(name)

    def to_env(self) -> dict[str, str]:
        """The ``SHARDLINE_KAFKA_*`` variables that give a child process this configuration
        (secrets revealed: for a child's environment only, never to be shown)."""
        env = {BOOTSTRAP_VARIABLE: self.bootstrap}
        env.update((variable_name(p.name), p.reveal()) for p in self.properties)
        if self.oauth is not None:
            env[variable_name("sasl.mechanism")] = MSK_IAM_MECHANISM
            env[REGION_VARIABLE] = self.oauth.region
            options = {"awsProfileName": self.oauth.profile, "awsRoleArn": self.oauth.role_arn,
                       "awsRoleSessionName": self.oauth.role_session_name}
            env[variable_name("sasl.jaas.config")] = f"{_IAM_MODULE} required " + " ".join(
                f'{k}="{v}"' for k, v in options.items() if v) + ";"
        return env

    # -- showing ---------------------------------------------------------------------------
    def redacted(self) -> dict[str, str]:
        """The configuration as it may be shown: secrets as ``***``."""
        shown = {"bootstrap.servers": self.bootstrap}
        shown.update((p.name, p.shown()) for p in self.properties)
        if self.oauth is not None:
            shown["oauth_cb"] = repr(self.oauth)
        return shown

    def describe(self) -> str:
        """One line: the brokers, then every property (secrets as ``***``)."""
        if not self.properties and self.oauth is None:
            return f"{self.bootstrap} (PLAINTEXT)"
        items = [f"{p.name}={p.shown()}" for p in self.properties]
        if self.oauth is not None:
            items.append(repr(self.oauth))
        return f"{self.bootstrap} ({', '.join(items)})"

    def redact(self, text: str) -> str:
        """``text`` with the value of every secret property replaced by ``***`` (for
        librdkafka's messages, before they are shown)."""
        for prop in self.properties:
            if isinstance(prop.value, Secret) and prop.value.reveal():
                text = text.replace(prop.value.reveal(), REDACTED)
        return text

    def __repr__(self) -> str:
        return f"KafkaConfig({self.describe()})"

    __str__ = __repr__

    # -- checks ----------------------------------------------------------------------------
    def validate(self) -> None:
        """Let librdkafka check every property (names, values, the files they name): a
        ConfigError naming the variable or the file's line of the first one it refuses."""
        conf: dict[str, Any] = {p.name: p.reveal() for p in self.properties}
        if self.oauth is not None:  # a stand-in: validating must not sign a token
            conf["oauth_cb"] = lambda _config: ("validation", time.time() + 60)
        try:
            Producer({**conf, "logger": QUIET_LOGGER, "log_level": 0})
        except (KafkaException, ValueError, TypeError) as exc:
            raise self.config_error(error_text(exc)) from None

    def config_error(self, message: str) -> ConfigError:
        """librdkafka's refusal of a property as a ConfigError naming where it was set: the
        property its message names, else (an alias: ``linger.ms`` is reported as
        ``queue.buffering.max.ms``) the first one librdkafka refuses on its own."""
        message = self.redact(message)
        named = sorted((p for p in self.properties if p.name in message),
                       key=lambda p: -len(p.name))
        culprit = named[0] if named else next(
            (p for p in self.properties if not _accepted({p.name: p.reveal()})), None)
        where = culprit.origin if culprit is not None else ", ".join(
            sorted({p.origin for p in self.properties}))
        return ConfigError(where, f"librdkafka refused it: {message}")


class _QuietLogger:
    def log(self, *_args: object, **_kwargs: object) -> None:  # librdkafka chatter
        pass


#: a librdkafka ``logger`` that drops everything (short-lived admin and check clients)
QUIET_LOGGER = _QuietLogger()


def error_text(exc: BaseException) -> str:
    """librdkafka's own words in a confluent-kafka exception (not the KafkaError repr)."""
    first = exc.args[0] if exc.args else exc
    return first.str() if isinstance(first, KafkaError) else str(first)


def _accepted(conf: dict[str, Any]) -> bool:
    try:
        Producer({**conf, "logger": QUIET_LOGGER, "log_level": 0})
    except (KafkaException, ValueError, TypeError):
        return False
    return True


def _check_bootstrap_property(prop: KafkaProperty | None, bootstrap: str) -> None:
    """A ``bootstrap.servers`` property may only repeat ``SHARDLINE_KAFKA_BOOTSTRAP``."""
    if prop is not None and _normal(prop.reveal()) != _normal(bootstrap):
        raise ConfigError(
            prop.origin,
            f"names the brokers {prop.reveal()}, but they come from {BOOTSTRAP_VARIABLE} "
            f"(now {bootstrap}): set {BOOTSTRAP_VARIABLE}={prop.reveal()}",
        )


def _normal(bootstrap: str) -> list[str]:
    return sorted(b.strip() for b in bootstrap.split(",") if b.strip())


def _bootstrap(value: str) -> str:
    for hostport in value.split(","):
        host, sep, port = hostport.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(BOOTSTRAP_VARIABLE,
                              f"expected host:port[,host:port], got {value!r}")
    return value


def _read_file(path: Path) -> list[KafkaProperty]:
    where = f"{CONFIG_FILE_VARIABLE} ({path})"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(CONFIG_FILE_VARIABLE, f"cannot read {path}: {exc.strerror}") from None
    out = []
    for line in parse_properties(text, str(path)):
        name = _ALIASES.get(line.key, line.key)
        origin = f"{name} in {where} line {line.line}"
        if name in _JAVA_HINTS:
            raise ConfigError(origin, _JAVA_HINTS[name])
        out.append(KafkaProperty(name, Secret(line.value) if is_secret(name) else line.value,
                                 origin))
    return out


# sasl.jaas.config = <login module> <flag> key="value" key=value ... ;
_JAAS = re.compile(r"^\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\s*(.*?)\s*;?\s*$",
                   re.S)
_JAAS_OPTION = re.compile(r'([\w.]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))')
_PLAIN_MODULES = ("org.apache.kafka.common.security.plain.PlainLoginModule",
                  "org.apache.kafka.common.security.scram.ScramLoginModule")
_IAM_MODULE = "software.amazon.msk.auth.iam.IAMLoginModule"


def _jaas_options(prop: KafkaProperty) -> tuple[str, dict[str, str]]:
    match = _JAAS.match(prop.reveal())
    if match is None:
        raise ConfigError(prop.origin, "not a JAAS login module line (value not shown)")
    options = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
               for m in _JAAS_OPTION.finditer(match.group(3))}
    return match.group(1), {k: re.sub(r"\\(.)", r"\1", v) for k, v in options.items()}


def _translate_jaas(props: dict[str, KafkaProperty]) -> dict[str, KafkaProperty]:
    jaas = props.pop("sasl.jaas.config", None)
    if jaas is None:
        return props
    module, options = _jaas_options(jaas)
    if module in _PLAIN_MODULES:
        translated = {"sasl.username": options.get("username", ""),
                      "sasl.password": options.get("password", "")}
        for name, value in translated.items():
            if name not in props and value:  # an explicit property wins
                props[name] = KafkaProperty(name, Secret(value) if is_secret(name) else value,
                                            jaas.origin)
        return props
    if module == _IAM_MODULE:
        if props.get("sasl.mechanism", KafkaProperty("", "", "")).reveal().upper() != \
                MSK_IAM_MECHANISM:
            raise ConfigError(jaas.origin, f"MSK's IAMLoginModule needs "
                                           f"sasl.mechanism={MSK_IAM_MECHANISM}")
        for key, name in (("awsProfileName", "profile"), ("awsRoleArn", "role_arn"),
                          ("awsRoleSessionName", "role_session_name")):
            if options.get(key):
                props[f"__msk_iam.{name}"] = KafkaProperty(name, options[key], jaas.origin)
        return props
    hint = ("use librdkafka's sasl.oauthbearer.method=oidc with sasl.oauthbearer.client.id, "
            "sasl.oauthbearer.client.secret and sasl.oauthbearer.token.endpoint.url"
            if "OAuthBearer" in module else "only PLAIN, SCRAM and MSK IAM login modules "
                                            "are translated to librdkafka properties")
    raise ConfigError(jaas.origin, f"login module {module}: {hint}")


def _msk_iam(props: dict[str, KafkaProperty], env: Mapping[str, str]) -> MskIamTokenProvider | None:
    mechanism = props.get("sasl.mechanism")
    iam_options = {p.name: p.reveal() for k, p in list(props.items()) if k.startswith("__msk_iam.")}
    for key in [k for k in props if k.startswith("__msk_iam.")]:
        del props[key]
    handler = props.get("sasl.client.callback.handler.class")
    is_iam = mechanism is not None and mechanism.reveal().upper() == MSK_IAM_MECHANISM
    if handler is not None and not is_iam:
        raise ConfigError(handler.origin, f"only MSK IAM's handler is understood, with "
                                          f"sasl.mechanism={MSK_IAM_MECHANISM}")
    for name in sorted(IGNORED_JAVA_PROPERTIES & set(props)):
        log.info("%s: ignored (no librdkafka meaning)", props.pop(name).origin)
    if mechanism is None or not is_iam:
        return None
    region = next((env[v].strip() for v in (REGION_VARIABLE, "AWS_REGION", "AWS_DEFAULT_REGION")
                   if env.get(v, "").strip()), "")
    props["sasl.mechanism"] = KafkaProperty("sasl.mechanism", "OAUTHBEARER", mechanism.origin)
    if "security.protocol" not in props:
        props["security.protocol"] = KafkaProperty("security.protocol", "SASL_SSL",
                                                   mechanism.origin)
    return MskIamTokenProvider(
        region=region,
        profile=iam_options.get("profile", ""),
        role_arn=iam_options.get("role_arn", ""),
        role_session_name=iam_options.get("role_session_name", DEFAULT_ROLE_SESSION_NAME),
    )
