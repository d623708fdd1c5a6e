"""Delivery streams written in Firehose's own layout (CreateDeliveryStream input or
describe-delivery-stream output), translated into Shardline's delivery configuration."""

from connectors.firehose_layout.processing import PROCESSOR_PARAMETERS, resolve_function
from connectors.firehose_layout.reader import Translation
from connectors.firehose_layout.translate import (
    EXTENSION_KEY,
    delivery_from_firehose,
    is_firehose_layout,
    translate,
)

__all__ = [
    "EXTENSION_KEY",
    "PROCESSOR_PARAMETERS",
    "Translation",
    "delivery_from_firehose",
    "is_firehose_layout",
    "resolve_function",
    "translate",
]
