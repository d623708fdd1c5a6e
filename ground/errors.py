"""The one exception hierarchy of Shardline.

::

    ShardlineError
    ├── ConfigError(ValueError)            a bad setting; names the field
    ├── StackError(RuntimeError)           the local stack could not be provisioned or run
    │   ├── ToolMissingError               java / mvn / go not on PATH
    │   └── PortInUseError                 a port the stack needs is taken
    ├── ServiceUnavailableError(ConnectionError)  a server was unreachable or answered 5xx:
    │                                      transient, worth waiting for at start-up
    ├── BrokerUnavailableError(ConnectionError)   Kafka did not answer
    │   └── KafkaUnreachableError(ServiceUnavailableError)  no broker answered at all
    ├── CredentialsError(PermissionError)  a server refused the credentials (or they could not
    │                                      be obtained); names the system and the settings
    ├── KafkaSecurityError(PermissionError)  Kafka refused the credentials, or its TLS
    │                                      certificate is not trusted; names the setting
    ├── CodecError(ValueError)             a record could not be decoded; keeps the raw bytes
    │   └── SchemaMismatchError            its schema id is unknown, or names a schema that
    │                                      cannot be read as the expected one
    ├── SchemaRegistryError(ConnectionError)  the schema registry did not answer, refused the
    │                                      credentials or a schema: no record's fault
    ├── ProduceError                       the producer could not deliver records
    ├── DeliveryError                      a destination refused or failed a write
    │   ├── DestinationUnavailableError(ServiceUnavailableError)  S3 or the search
    │   │                                  cluster was unreachable or answered 5xx
    │   ├── RetriableDeliveryError         worth another try (throttling, 5xx, timeouts)
    │   └── PermanentDeliveryError         will not succeed on retry (4xx, mapping errors)
    │       └── KeyCollisionError          an object key holds different content already
    ├── SqlError(ValueError)               a SQL application cannot run; line and column
    │   ├── SqlSyntaxError                 the text does not parse
    │   ├── SqlUnsupportedError            parses, but uses a construct not supported yet
    │   └── SqlPlanError                   unknown stream/column, type mismatch, bad window
    ├── RowError(ValueError)               one row failed (coercion, divide by zero, …):
    │                                      it goes to the error stream, the pipeline goes on
    └── RuntimeFailure(RuntimeError)       the stream runtime stopped; nothing uncommitted kept
        ├── TransactionError               a Kafka transaction failed for good (fenced, fatal)
        ├── ProcessorError                 a processor raised (a bug, not a row error)
        └── RestoreError                   state could not be read back from its changelog
"""

from __future__ import annotations

__all__ = [
    "BrokerUnavailableError",
    "CodecError",
    "ConfigError",
    "CredentialsError",
    "DeliveryError",
    "DestinationUnavailableError",
    "KafkaSecurityError",
    "KafkaUnreachableError",
    "KeyCollisionError",
    "PermanentDeliveryError",
    "PortInUseError",
    "ProduceError",
    "ProcessorError",
    "RestoreError",
    "RetriableDeliveryError",
    "RowError",
    "RuntimeFailure",
    "SchemaMismatchError",
    "SchemaRegistryError",
    "ServiceUnavailableError",
    "ShardlineError",
    "SqlError",
    "SqlPlanError",
    "SqlSyntaxError",
    "SqlUnsupportedError",
    "StackError",
    "ToolMissingError",
    "TransactionError",
]


class ShardlineError(Exception):
    """Root of every error Shardline raises on purpose."""


class ConfigError(ShardlineError, ValueError):
    """A setting is missing or invalid. ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message  # without the field, for re-raising under another name


class StackError(ShardlineError, RuntimeError):
    """The local stack could not be provisioned, started or stopped."""


class ToolMissingError(StackError):
    """A tool the local stack needs (java, mvn, go) is not installed."""


class PortInUseError(StackError):
    """A port the local stack wants to bind is already taken."""


class ServiceUnavailableError(ShardlineError, ConnectionError):
    """A server could not be reached, or answered 5xx: a transient condition, which a worker
    waits out at start-up (``ground.startup``). ``system`` and ``endpoint`` name the server,
    ``reason`` says what happened; none holds a secret."""

    def __init__(
        self, message: str, *, system: str = "", endpoint: str = "", reason: str = ""
    ) -> None:
        super().__init__(message)
        self.system = system
        self.endpoint = endpoint
        self.reason = reason or message


class BrokerUnavailableError(ShardlineError, ConnectionError):
    """The Kafka cluster did not answer within the timeout."""


class KafkaUnreachableError(BrokerUnavailableError, ServiceUnavailableError):
    """No Kafka broker answered at all (nothing refused the credentials or the certificate):
    the cluster is down or restarting."""

    def __init__(self, message: str, *, endpoint: str, reason: str = "") -> None:
        super().__init__(message, system="Kafka", endpoint=endpoint, reason=reason)


class CredentialsError(ShardlineError, PermissionError):
    """A server refused the credentials, or they could not be obtained. ``system`` names the
    server (S3, STS, Elasticsearch), ``setting`` the settings the credentials come from;
    the message never holds the secret itself. Nothing is committed after it."""

    def __init__(self, system: str, message: str, *, setting: str = "") -> None:
        super().__init__(f"{system}: {message}" + (f" (check {setting})" if setting else ""))
        self.system = system
        self.setting = setting


class KafkaSecurityError(ShardlineError, PermissionError):
    """Kafka refused the client's credentials (SASL), or the client does not trust the
    broker's certificate (TLS). Retrying will not help. ``setting`` names what to fix; the
    message never holds a secret."""

    def __init__(self, message: str, *, setting: str = "") -> None:
        super().__init__(message)
        self.setting = setting


class CodecError(ShardlineError, ValueError):
    """A record could not be decoded or encoded. ``raw`` keeps the original bytes."""

    def __init__(self, reason: str, raw: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


class SchemaMismatchError(CodecError):
    """The record is framed well but its schema is not the expected one: an id no registry
    (or ``ids.json``) knows, another schema, or a writer schema that Avro schema resolution
    cannot read as the reader's (a field without default missing, a type changed)."""


class SchemaRegistryError(ShardlineError, ConnectionError):
    """The schema registry could not be used: unreachable, credentials refused, a schema
    refused (incompatible), an unexpected answer. Unlike an unknown schema id in a record (a
    :class:`CodecError` of that record), nothing is gained by skipping the record: the work
    stops or is retried. ``status`` is the HTTP status, 0 when none came back."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ProduceError(ShardlineError):
    """Records could not be delivered to Kafka by the producer."""


class DeliveryError(ShardlineError):
    """A destination failed a write. ``destination`` names it."""

    def __init__(self, message: str, *, destination: str = "") -> None:
        super().__init__(f"{destination}: {message}" if destination else message)
        self.destination = destination


class DestinationUnavailableError(DeliveryError, ServiceUnavailableError):
    """A destination's server (S3, Elasticsearch / OpenSearch) could not be reached or
    answered 5xx at start-up: transient."""

    def __init__(self, message: str, *, system: str, endpoint: str, reason: str) -> None:
        super().__init__(message, destination=system)
        self.system = system
        self.endpoint = endpoint
        self.reason = reason


class RetriableDeliveryError(DeliveryError):
    """The write may succeed if tried again (throttled, 5xx, timeout, connection reset)."""


class PermanentDeliveryError(DeliveryError):
    """The write will not succeed on retry (rejected document, access denied, bad request)."""


class KeyCollisionError(PermanentDeliveryError):
    """An object key already holds different content: never overwritten, offsets not committed."""


class SqlError(ShardlineError, ValueError):
    """A SQL application cannot run. ``line``/``column`` are 1-based, 0 when unknown."""

    def __init__(self, message: str, *, line: int = 0, column: int = 0) -> None:
        where = f"line {line}, column {column}: " if line else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.line = line
        self.column = column


class SqlSyntaxError(SqlError):
    """The application code does not parse."""


class SqlUnsupportedError(SqlError):
    """The code parses but uses a construct Shardline does not run yet. ``construct`` names it."""

    def __init__(self, construct: str, *, line: int = 0, column: int = 0) -> None:
        super().__init__(f"not supported yet: {construct}", line=line, column=column)
        self.construct = construct


class SqlPlanError(SqlError):
    """Unknown stream or column, a type mismatch, a window that cannot be planned."""


class RowError(ShardlineError, ValueError):
    """One row failed while being decoded or evaluated; it goes to the error stream.

    ``name`` is the KDA ``ERROR_NAME`` (e.g. ``Type_Coercion_Error``, ``Divide_By_Zero``).
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class RuntimeFailure(ShardlineError, RuntimeError):
    """The exactly-once stream runtime stopped. Nothing after the last commit was kept.

    ``topic``/``partition``/``offset`` say where, when known (empty, -1 otherwise).
    """

    def __init__(
        self, message: str, *, topic: str = "", partition: int = -1, offset: int = -1
    ) -> None:
        where = ""
        if topic:
            where = f"{topic}[{partition}]" if partition >= 0 else topic
            where += f"@{offset}" if offset >= 0 else ""
            where += ": "
        super().__init__(where + message)
        self.topic = topic
        self.partition = partition
        self.offset = offset


class TransactionError(RuntimeFailure):
    """A Kafka transaction failed in a way a retry or an abort cannot fix: the producer was
    fenced by another worker with the same ``transactional.id``, or hit a fatal error."""


class ProcessorError(RuntimeFailure):
    """A partition processor raised. Its batch was aborted, nothing of it was committed."""


class RestoreError(RuntimeFailure):
    """A partition's state could not be read back from its changelog within the timeout."""
