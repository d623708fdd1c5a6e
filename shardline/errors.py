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
    └── DeliveryError                      a destination refused or failed a write
        ├── RetriableDeliveryError         worth another try (throttling, 5xx, timeouts)
        └── PermanentDeliveryError         will not succeed on retry (4xx, mapping errors)
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
    "ShardlineError",
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
