"""Turns the raw bytes of an input record into a dict, via the codecs in ``schemas``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shardline.errors import CodecError

__all__ = ["decoder_for"]


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CodecError(f"not UTF-8 JSON: {exc}", raw) from None
    if not isinstance(value, dict):
        raise CodecError("JSON value is not an object", raw)
    return value


def decoder_for(input_format: str, schema: str) -> Callable[[bytes], dict[str, Any]]:
    """A decoder for ``input_format`` (``json``, ``avro`` or ``auto``)."""
    return _json
