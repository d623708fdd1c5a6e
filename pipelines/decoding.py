"""Turns the raw bytes of an input record into a dict, with the codecs in ``schemas``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ground.errors import ConfigError
from schemas import codec_for, decode_any

__all__ = ["decoder_for"]


def decoder_for(input_format: str, schema: str) -> Callable[[bytes], dict[str, Any]]:
    """A decoder for ``input_format``: ``json`` or ``avro`` (Confluent wire format) checked
    against ``schema``, or ``auto`` (Avro by its schema id, JSON checked against ``schema``).
    Every failure is a CodecError with the reason and the original bytes."""
    if input_format == "auto":
        return partial(decode_any, json_schema=schema)
    if input_format in ("json", "avro"):
        return codec_for(input_format, schema).decode
    raise ConfigError("input_format", f"expected auto, json or avro, got {input_format!r}")
