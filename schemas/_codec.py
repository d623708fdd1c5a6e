"""Encode and decode records: Avro in the Confluent wire format, or JSON objects.

Confluent wire format::

    byte 0      magic byte, always 0
    bytes 1-4   schema id, big-endian unsigned 32-bit
    bytes 5-    the Avro body, schemaless binary encoding (fastavro.schemaless_writer)

The id names the schema the record was written with. Without a schema registry, ids are the
fixed ones of ``ids.json`` and a codec reads only its own. With a registry, a codec reads any
id the registry knows: the body is read with that *writer* schema and projected onto the
codec's own (*reader*) schema by Avro schema resolution (fastavro), so records of a
compatible version — a field added with a default, a field removed, an int widened to a
long — decode to the reader's shape. Writer schemas and resolution plans are cached per id.
Encoding registers the codec's schema under its subject (once) and writes that id.

JSON records are one UTF-8 JSON object each (no framing). Both formats are checked
against the schema on decode (and on encode): a record that does not fit raises
:class:`~ground.errors.CodecError` with a precise ``reason`` and the original bytes in
``raw``, ready for an error topic — an id the registry does not know, and a writer schema
that cannot be resolved to the reader's, too. A registry that cannot be used raises
:class:`~ground.errors.SchemaRegistryError` instead: that is no record's fault.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any, Literal, NamedTuple

import fastavro
from fastavro.read import SchemaResolutionError

from ground.errors import CodecError, ConfigError, SchemaMismatchError
from schemas._catalog import SchemaCatalog, default_catalog
from schemas._conform import Mismatch, conform
from schemas._registry import canonical_form

__all__ = [
    "AVRO_MAGIC",
    "FORMATS",
    "AvroPlan",
    "Codec",
    "Format",
    "codec_for",
    "decode_any",
    "detect_format",
]

AVRO_MAGIC = 0
_HEADER = struct.Struct(">bI")
Format = Literal["avro", "json"]
FORMATS: tuple[Format, ...] = ("avro", "json")


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


class AvroPlan(NamedTuple):
    """How to read the body of one schema id: ``fastavro.schemaless_reader(buf, writer,
    reader)``. ``reader`` is None when the writer's schema is the reader's (no resolution)."""

    schema_id: int
    writer: dict[str, Any]
    reader: dict[str, Any] | None
    writer_name: str


class Codec:
    """Encodes dicts to bytes and back for one schema and one format.

    ``catalog`` is where the schema and the ids come from (the process's default catalog
    when None); ``subject`` is the registry subject :meth:`encode` registers the schema
    under (default: the schema's name), e.g. ``<topic>-value``.
    """

    __slots__ = ("_canonical", "_id", "_plans", "catalog", "format", "schema", "schema_name",
                 "subject")

    def __init__(
        self,
        format: Format,
        schema_name: str,
        *,
        catalog: SchemaCatalog | None = None,
        subject: str | None = None,
    ) -> None:
        if format not in FORMATS:
            raise ConfigError("format", f"one of {FORMATS}, got {format!r}")
        self.format: Format = format
        self.schema_name = schema_name
        self.catalog = catalog or default_catalog()
        self.schema: dict[str, Any] = self.catalog.schema(schema_name)  # fails early if unknown
        self.subject = subject or schema_name
        self._canonical = canonical_form(self.schema)
        self._id: int | None = None
        self._plans: dict[int, AvroPlan] = {}

    def __repr__(self) -> str:
        return f"Codec({self.format!r}, {self.schema_name!r}, {self.catalog!r})"

    @property
    def schema_id(self) -> int:
        """The id :meth:`encode` writes. With a registry: the schema's id under
        ``subject`` (registered on first use); without: its fixed id (ConfigError if none)."""
        if self._id is None:
            registry = self.catalog.registry
            if registry is not None:
                self._id = registry.register(self.subject, self.catalog.text(self.schema_name))
            else:
                sid = self.catalog.fixed_id(self.schema_name)
                if sid is None:
                    raise ConfigError(
                        "schema",
                        f"schema {self.schema_name!r} has no fixed id for Avro: add it to the "
                        "ids.json of its folder, or set SHARDLINE_SCHEMA_REGISTRY_URL",
                    )
                self._id = sid
        return self._id

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
            return _decode_json(raw, self.schema_name, self.schema)
        plan = self.plan(_avro_schema_id(raw), raw)
        return _decode_avro_body(raw, plan, self.schema_name)

    def plan(self, sid: int, raw: bytes | None = None) -> AvroPlan:
        """How to read records of schema id ``sid`` as this codec's schema (cached per id).
        CodecError (with ``raw``) for an id that cannot be read as this schema."""
        plan = self._plans.get(sid)
        if plan is not None:
            return plan
        registry = self.catalog.registry
        if registry is None:
            own = self.catalog.fixed_id(self.schema_name)
            if sid != own:
                known = self.catalog.name_for_local_id(sid)
                what = f"schema {known!r}" if known else "no known schema"
                raise SchemaMismatchError(
                    f"schema id {sid} ({what}) where {self.schema_name!r} (id {own}) "
                    "was expected", raw)
            plan = AvroPlan(sid, self.schema, None, self.schema_name)
        else:
            try:
                writer = registry.by_id(sid)
            except CodecError as exc:
                raise SchemaMismatchError(exc.reason, raw) from None
            same = writer.canonical == self._canonical
            plan = AvroPlan(sid, writer.schema, None if same else self.schema, writer.name)
        self._plans[sid] = plan
        return plan


def codec_for(
    format: str,
    schema_name: str,
    *,
    catalog: SchemaCatalog | None = None,
    subject: str | None = None,
) -> Codec:
    """The codec of ``schema_name`` in ``format`` ("avro" or "json"), from ``catalog`` (the
    default catalog when None); ``subject``: where :meth:`Codec.encode` registers it."""
    return Codec(format, schema_name, catalog=catalog, subject=subject)  # type: ignore[arg-type]


def detect_format(raw: bytes) -> Format:
    """"avro" if ``raw`` starts with the magic byte 0, else "json"; CodecError if empty.

    A JSON object starts with ``{`` (after optional whitespace); other first bytes are still
    read as JSON so that the error says what is wrong ("JSON value is not an object",
    "not UTF-8 JSON", "invalid JSON") rather than only "unknown format".
    """
    if not raw:
        raise CodecError("empty record", raw)
    return "avro" if raw[0] == AVRO_MAGIC else "json"


def decode_any(
    raw: bytes, json_schema: str | None = None, *, catalog: SchemaCatalog | None = None
) -> dict[str, Any]:
    """Decode a record of either format.

    Avro records name their schema by id (the registry's, or a fixed one) and are read in
    that schema's own shape. JSON records carry no schema: they are checked against
    ``json_schema`` when given, else only required to be a JSON object.
    """
    catalog = catalog or default_catalog()
    if detect_format(raw) == "avro":
        sid = _avro_schema_id(raw)
        if catalog.registry is not None:
            try:
                writer = catalog.registry.by_id(sid)
            except CodecError as exc:
                raise SchemaMismatchError(exc.reason, raw) from None
            return _decode_avro_body(raw, AvroPlan(sid, writer.schema, None, writer.name),
                                     writer.name)
        name = catalog.name_for_local_id(sid)
        if name is None:
            raise SchemaMismatchError(f"unknown schema id {sid}", raw)
        return _decode_avro_body(raw, AvroPlan(sid, catalog.schema(name), None, name), name)
    if json_schema is None:
        return _decode_json(raw, None, None)
    return _decode_json(raw, json_schema, catalog.schema(json_schema))


def _avro_schema_id(raw: bytes) -> int:
    if len(raw) < _HEADER.size:
        raise CodecError(f"truncated Confluent header: {len(raw)} of {_HEADER.size} bytes", raw)
    magic, sid = _HEADER.unpack_from(raw)
    if magic != AVRO_MAGIC:
        raise CodecError(f"not Avro: magic byte is {magic & 0xFF}, expected 0", raw)
    return sid


def _decode_avro_body(raw: bytes, plan: AvroPlan, schema_name: str) -> dict[str, Any]:
    buf = io.BytesIO(raw)
    buf.seek(_HEADER.size)
    try:
        record = fastavro.schemaless_reader(buf, plan.writer, plan.reader)
    except SchemaResolutionError as exc:
        raise SchemaMismatchError(
            f"schema id {plan.schema_id} ({plan.writer_name}) cannot be read as "
            f"{schema_name}: {exc}", raw) from None
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


def _decode_json(
    raw: bytes, schema_name: str | None, schema: dict[str, Any] | None
) -> dict[str, Any]:
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
    if schema is None:
        return value
    try:
        return conform(schema, value)
    except Mismatch as exc:
        raise CodecError(str(exc), raw) from None
