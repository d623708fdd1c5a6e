"""Encode and decode records: Avro in the Confluent wire format, or JSON objects.

Confluent wire format::

    byte 0      magic byte, always 0
    bytes 1-4   schema id, big-endian unsigned 32-bit (see ids.json)
    bytes 5-    the Avro body, schemaless binary encoding (fastavro.schemaless_writer)

JSON records are one UTF-8 JSON object each (no framing). Both formats are checked
against the schema on decode (and on encode): a record that does not fit raises
:class:`~ground.errors.CodecError` with a precise ``reason`` and the original bytes in
``raw``, ready for an error topic.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any, Literal

import fastavro

from ground.errors import CodecError, ConfigError
from schemas._conform import Mismatch, conform
from schemas._registry import load_schema, schema_id, schema_name_for_id

__all__ = ["AVRO_MAGIC", "FORMATS", "Codec", "Format", "codec_for", "decode_any", "detect_format"]

AVRO_MAGIC = 0
_HEADER = struct.Struct(">bI")
Format = Literal["avro", "json"]
FORMATS: tuple[Format, ...] = ("avro", "json")


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


@dataclass(frozen=True, slots=True)
class Codec:
    """Encodes dicts to bytes and back for one schema and one format."""

    format: Format
    schema_name: str

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError("format", f"one of {FORMATS}, got {self.format!r}")
        load_schema(self.schema_name)  # fail early on an unknown schema

    @property
    def schema(self) -> dict[str, Any]:
        return load_schema(self.schema_name)

    @property
    def schema_id(self) -> int:
        return schema_id(self.schema_name)

    def encode(self, record: dict[str, Any]) -> bytes:
        """Bytes for ``record``; CodecError (raw=None) if it does not fit the schema."""
        try:
            value = conform(self.schema, record)
        except Mismatch as exc:
            raise CodecError(f"cannot encode {self.schema_name}: {exc}") from None
        if self.format == "json":
            try:
                text = json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                                  allow_nan=False)
            except ValueError:
                raise CodecError(f"cannot encode {self.schema_name}: NaN or Infinity "
                                 "is not valid JSON") from None
            return text.encode("utf-8")
        buf = io.BytesIO()
        buf.write(_HEADER.pack(AVRO_MAGIC, self.schema_id))
        fastavro.schemaless_writer(buf, self.schema, value)
        return buf.getvalue()

    def decode(self, raw: bytes) -> dict[str, Any]:
        """The record in ``raw``; CodecError with the reason and ``raw`` if it is malformed."""
        if self.format == "json":
            return _decode_json(raw, self.schema_name)
        sid = _avro_schema_id(raw)
        if sid != self.schema_id:
            known = schema_name_for_id(sid)
            what = f"schema {known!r}" if known else "no known schema"
            raise CodecError(
                f"schema id {sid} ({what}) where {self.schema_name!r} (id {self.schema_id}) "
                "was expected", raw)
        return _decode_avro_body(raw, self.schema_name)


def codec_for(format: str, schema_name: str) -> Codec:
    """The codec of ``schema_name`` in ``format`` ("avro" or "json")."""
    return Codec(format, schema_name)  # type: ignore[arg-type]


def detect_format(raw: bytes) -> Format:
    """"avro" if ``raw`` starts with the magic byte 0, else "json"; CodecError if empty.

    A JSON object starts with ``{`` (after optional whitespace); other first bytes are still
    read as JSON so that the error says what is wrong ("JSON value is not an object",
    "not UTF-8 JSON", "invalid JSON") rather than only "unknown format".
    """
    if not raw:
        raise CodecError("empty record", raw)
    return "avro" if raw[0] == AVRO_MAGIC else "json"


def decode_any(raw: bytes, json_schema: str | None = None) -> dict[str, Any]:
    """Decode a record of either format.

    Avro records name their schema by id. JSON records carry no schema: they are checked
    against ``json_schema`` when given, else only required to be a JSON object.
    """
    if detect_format(raw) == "avro":
        sid = _avro_schema_id(raw)
        name = schema_name_for_id(sid)
        if name is None:
            raise CodecError(f"unknown schema id {sid}", raw)
        return _decode_avro_body(raw, name)
    return _decode_json(raw, json_schema)


def _avro_schema_id(raw: bytes) -> int:
    if len(raw) < _HEADER.size:
        raise CodecError(f"truncated Confluent header: {len(raw)} of {_HEADER.size} bytes", raw)
    magic, sid = _HEADER.unpack_from(raw)
    if magic != AVRO_MAGIC:
        raise CodecError(f"not Avro: magic byte is {magic & 0xFF}, expected 0", raw)
    return sid


def _decode_avro_body(raw: bytes, schema_name: str) -> dict[str, Any]:
    buf = io.BytesIO(raw)
    buf.seek(_HEADER.size)
    try:
        record = fastavro.schemaless_reader(buf, load_schema(schema_name), None)
    except (EOFError, StopIteration, struct.error):
        raise CodecError(f"truncated Avro body ({schema_name})", raw) from None
    except IndexError as exc:  # a varint cut short, or a union/enum index out of range
        if buf.tell() >= len(raw):
            raise CodecError(f"truncated Avro body ({schema_name})", raw) from None
        raise CodecError(f"invalid Avro body ({schema_name}): {exc}", raw) from None
    except (ValueError, UnicodeDecodeError, TypeError) as exc:
        raise CodecError(f"invalid Avro body ({schema_name}): {exc}", raw) from None
    if buf.tell() != len(raw):
        raise CodecError(
            f"{len(raw) - buf.tell()} trailing bytes after the Avro body ({schema_name})", raw)
    if not isinstance(record, dict):
        raise CodecError(f"Avro body is not a record ({schema_name})", raw)
    return record


def _decode_json(raw: bytes, schema_name: str | None) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(f"not UTF-8 JSON: {exc}", raw) from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError and the NaN/Infinity rejection
        raise CodecError(f"invalid JSON: {exc}", raw) from None
    if not isinstance(value, dict):
        raise CodecError(f"JSON value is not an object but {type(value).__name__}", raw)
    if schema_name is None:
        return value
    try:
        return conform(load_schema(schema_name), value)
    except Mismatch as exc:
        raise CodecError(str(exc), raw) from None
