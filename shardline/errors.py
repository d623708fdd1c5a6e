"""The one exception hierarchy of Shardline.

::

    ShardlineError
    ├── ConfigError(ValueError)            a bad setting; names the field
    ├── StackError(RuntimeError)           the local stack could not be provisioned or run
    │   ├── ToolMissingError               java / mvn / go not on PATH
    │   └── PortInUseError                 a port the stack needs is taken
    ├── BrokerUnavailableError(ConnectionError)   Kafka did not answer
    ├── CodecError(ValueError)             a record could not be decoded; keeps the raw bytes
    ├── ProduceError                       the producer could not deliver records
    ├── DeliveryError                      a destination refused or failed a write
    │   ├── RetriableDeliveryError         worth another try (throttling, 5xx, timeouts)
    │   └── PermanentDeliveryError         will not succeed on retry (4xx, mapping errors)
    ├── SqlError(ValueError)               a SQL application cannot run; line and column
    │   ├── SqlSyntaxError                 the text does not parse
    │   ├── SqlUnsupportedError            parses, but uses a construct not supported yet
    │   └── SqlPlanError                   unknown stream/column, type mismatch, bad window
    └── RowError(ValueError)               one row failed (coercion, divide by zero, …):
                                           it goes to the error stream, the pipeline goes on
"""

from __future__ import annotations

__all__ = [
    "BrokerUnavailableError",
    "CodecError",
    "ConfigError",
    "DeliveryError",
    "PermanentDeliveryError",
    "PortInUseError",
    "ProduceError",
    "RetriableDeliveryError",
    "RowError",
    "ShardlineError",
    "SqlError",
    "SqlPlanError",
    "SqlSyntaxError",
    "SqlUnsupportedError",
    "StackError",
    "ToolMissingError",
]


class ShardlineError(Exception):
    """Root of every error Shardline raises on purpose."""


class ConfigError(ShardlineError, ValueError):
    """A setting is missing or invalid. ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class StackError(ShardlineError, RuntimeError):
    """The local stack could not be provisioned, started or stopped."""


class ToolMissingError(StackError):
    """A tool the local stack needs (java, mvn, go) is not installed."""


class PortInUseError(StackError):
    """A port the local stack wants to bind is already taken."""


class BrokerUnavailableError(ShardlineError, ConnectionError):
    """The Kafka cluster did not answer within the timeout."""


class CodecError(ShardlineError, ValueError):
    """A record could not be decoded or encoded. ``raw`` keeps the original bytes."""

    def __init__(self, reason: str, raw: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


class ProduceError(ShardlineError):
    """Records could not be delivered to Kafka by the producer."""


class DeliveryError(ShardlineError):
    """A destination failed a write. ``destination`` names it."""

    def __init__(self, message: str, *, destination: str = "") -> None:
        super().__init__(f"{destination}: {message}" if destination else message)
        self.destination = destination


class RetriableDeliveryError(DeliveryError):
    """The write may succeed if tried again (throttled, 5xx, timeout, connection reset)."""


class PermanentDeliveryError(DeliveryError):
    """The write will not succeed on retry (rejected document, access denied, bad request)."""


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
