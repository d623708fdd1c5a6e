"""Shardline's record schemas and codec.

The Avro schemas (``ticker.avsc``, ``clickstream.avsc``, and ``trade.avsc``, the benchmarks'
~100-byte record: the ticker's fields plus a trade's) are package data, with their
Confluent schema ids in ``ids.json``. :func:`codec_for` gives a :class:`Codec` that encodes
a dict to bytes (Avro in the Confluent wire format, or a JSON object) and decodes bytes
back, checking the schema; :func:`decode_any` detects the format of a record. Decoding
failures raise :class:`~ground.errors.CodecError` with ``reason`` and ``raw``.
"""

from schemas._codec import (
    AVRO_MAGIC,
    FORMATS,
    Codec,
    Format,
    codec_for,
    decode_any,
    detect_format,
)
from schemas._registry import load_schema, schema_id, schema_name_for_id, schema_names

__all__ = [
    "AVRO_MAGIC",
    "Codec",
    "FORMATS",
    "Format",
    "codec_for",
    "decode_any",
    "detect_format",
    "load_schema",
    "schema_id",
    "schema_name_for_id",
    "schema_names",
]
