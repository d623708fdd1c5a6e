"""Shardline: Kinesis Data Streams, Analytics (SQL) and Firehose on Kafka, Faust and connectors."""

from ground.errors import (
    BrokerUnavailableError,
    CodecError,
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    PortInUseError,
    ProduceError,
    RetriableDeliveryError,
    ShardlineError,
    StackError,
    ToolMissingError,
)

__version__ = "0.1.0"

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
    "__version__",
]
