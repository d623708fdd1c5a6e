"""Firehose's record format conversion, JSON → Apache Parquet, as a :class:`BodyEncoder`.

One object is one Parquet file with one row group (by default) holding the object's records in
order, with the schema derived from an Avro schema — a file of the user's schema folder, a
subject of the schema registry or a bundled example (:func:`connectors.s3.avro_arrow.schema_for`;
every column nullable, like a Glue table).

Deserialisation follows Firehose's OpenX JSON SerDe: each record is one JSON object; keys
match column names case-insensitively by default (``CaseInsensitive``), optionally with dots
read as underscores (``ConvertDotsInJsonKeysToUnderscores``) and with ``ColumnToJsonKeyMappings``
(column → JSON key); keys that match no column are ignored; absent columns are null. Values are
coerced as :mod:`connectors.s3.json_columns` describes. A record that is not a JSON object or
holds a value that cannot be coerced is not written: it comes back as a failure with
error-output-type ``format-conversion-failed`` and the other records are converted.

Avro records in the Confluent wire format (a Shardline extension: Firehose converts JSON only)
are read too when the encoder has an ``avro`` codec of its table schema: with a schema
registry, each record's writer schema (by id) is resolved to the table's, so a topic whose
producers evolved their schema converts whole; a record whose id is unknown or whose schema
cannot be read as the table's is a failure with its bytes, like a record that is not JSON.

The hot path is columnar: records are parsed with orjson, their values dropped into per-column
lists, and a column whose values are already of the right Python types goes to
``pyarrow.array`` in one call; only a column that does not becomes value-by-value coercion.

Determinism: pyarrow writes no time into the file (``created_by`` is the library version), so
the same records give the same bytes — which the destination's replay check relies on. Changing
the pyarrow version can change the bytes; a replay across such an upgrade is then reported as a
key collision rather than silently overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.core.records import Record, Rejected
from connectors.s3.formats import FORMAT_CONVERSION_FAILED, EncodedBody
from connectors.s3.json_columns import KeyRules, Mismatch, converter, fast_types
from ground.errors import CodecError
from schemas import AVRO_MAGIC, Codec

__all__ = [
    "DEFAULT_PAGE_SIZE_BYTES",
    "MALFORMED_DATA",
    "PARQUET_EXTENSION",
    "ParquetCompression",
    "ParquetEncoder",
    "WriterVersion",
]

PARQUET_EXTENSION = ".parquet"
PARQUET_CONTENT_TYPE = "application/octet-stream"  # what Firehose sets on every object
DEFAULT_PAGE_SIZE_BYTES = 1024 * 1024  # ParquetSerDe PageSizeBytes default (1 MiB)
MIN_PAGE_SIZE_BYTES = 64 * 1024  # ParquetSerDe PageSizeBytes minimum (64 KiB)
#: The ErrorCode of a record that is not JSON or does not fit the schema.
MALFORMED_DATA = "DataFormatConversion.MalformedData"
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)


class ParquetCompression(StrEnum):
    """ParquetSerDe ``Compression`` (SNAPPY default); ZSTD is a Shardline extension."""

    SNAPPY = "SNAPPY"
    GZIP = "GZIP"
    UNCOMPRESSED = "UNCOMPRESSED"
    ZSTD = "ZSTD"

    @property
    def codec(self) -> str:
        return "none" if self is ParquetCompression.UNCOMPRESSED else self.value.lower()


class WriterVersion(StrEnum):
    """ParquetSerDe ``WriterVersion``: V1 (default) data pages or V2 data pages."""

    V1 = "V1"
    V2 = "V2"


@dataclass(frozen=True, slots=True)
class ParquetEncoder:
    """Converts one object's JSON records to a Parquet file of ``schema``.

    ``row_group_rows``: rows per row group; None (default) writes one row group per object.
    ``avro``: the Avro codec of the table schema, to read Confluent-framed Avro records too.
    """

    schema: pa.Schema
    compression: ParquetCompression = ParquetCompression.SNAPPY
    keys: KeyRules = field(default_factory=KeyRules)
    enable_dictionary: bool = True
    page_size_bytes: int = DEFAULT_PAGE_SIZE_BYTES
    writer_version: WriterVersion = WriterVersion.V1
    row_group_rows: int | None = None
    schema_name: str = ""  # for failure messages and the error envelope
    avro: Codec | None = field(default=None, compare=False)
    _columns: tuple[_Column, ...] = field(init=False, repr=False, compare=False)
    _lookup: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        columns = tuple(
            _Column(f.name, f.type, f.nullable, fast_types(f.type),
                    converter(f.type, f.name, self.keys, f.nullable))
            for f in self.schema
        )
        object.__setattr__(self, "_columns", columns)
        object.__setattr__(self, "_lookup", self.keys.lookup(self.schema.names, top_level=True))

    @property
    def extension(self) -> str:
        return PARQUET_EXTENSION

    @property
    def content_type(self) -> str:
        return PARQUET_CONTENT_TYPE

    @property
    def content_encoding(self) -> str:
        return ""

    def encode(self, records: Sequence[Record]) -> EncodedBody:
        n = len(records)
        errors: dict[int, str] = {}  # row → why it cannot be converted (first reason)
        values = [[None] * n for _ in self._columns]
        resolved: dict[str, int] = {}  # raw JSON key → column (-1: none), per call
        lookup, normalise, avro = self._lookup, self.keys.normalise, self.avro
        for row, record in enumerate(records):
            value = record.value
            if avro is not None and value and value[0] == AVRO_MAGIC:  # JSON never starts so
                try:
                    doc = avro.decode(bytes(value))
                except CodecError as exc:
                    errors[row] = f"the record is Avro that cannot be read: {exc.reason}"
                    continue
            else:
                try:
                    doc = orjson.loads(value)  # type: ignore[arg-type]
                except orjson.JSONDecodeError as exc:
                    errors[row] = f"the record is not valid JSON: {exc}"
                    continue
            if not isinstance(doc, dict):
                errors[row] = f"the record is a JSON {_json_kind(doc)}, not an object"
                continue
            for key, value in doc.items():
                column = resolved.get(key)
                if column is None:
                    column = resolved[key] = lookup.get(normalise(key), -1)
                if column >= 0:
                    values[column][row] = value
        arrays = [self._array(c, v, errors) for c, v in zip(self._columns, values, strict=True)]
        good = [r for i, r in enumerate(records) if i not in errors]
        failures = tuple(
            Rejected(records[i], MALFORMED_DATA, errors[i],
                     error_output_type=FORMAT_CONVERSION_FAILED)
            for i in sorted(errors)
        )
        if not good:
            return EncodedBody(b"", (), failures)
        if errors:
            mask = pa.array([i not in errors for i in range(n)])
            arrays = [a.filter(mask) for a in arrays]
        return EncodedBody(self._write(pa.Table.from_arrays(arrays, schema=self.schema)),
                           tuple(good), failures)

    def _array(self, column: _Column, values: list[Any], errors: dict[int, str]) -> pa.Array:
        """The column as one Arrow array (rows in ``errors`` as nulls); adds the rows whose
        value cannot be coerced to ``errors``."""
        if column.fast is not None and {type(v) for v in values} <= column.fast and (
            column.nullable or None not in values
        ):
            try:
                return pa.array(values, type=column.type)
            except _ARROW_ERRORS:
                pass  # e.g. an integer out of range: the slow path names the row
        out: list[Any] = []
        for row, value in enumerate(values):
            if row in errors:
                out.append(None)
                continue
            try:
                out.append(column.convert(value))
            except Mismatch as exc:
                errors[row] = f"column {exc}"
                out.append(None)
        return pa.array(out, type=column.type)  # failed rows: nulls, filtered by the caller

    def _write(self, table: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        pq.write_table(
            table, sink,
            row_group_size=self.row_group_rows or max(1, table.num_rows),
            compression=self.compression.codec,
            use_dictionary=self.enable_dictionary,
            data_page_size=self.page_size_bytes,
            data_page_version="2.0" if self.writer_version is WriterVersion.V2 else "1.0",
            write_statistics=True,
            store_schema=True,
        )
        return sink.getvalue().to_pybytes()


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    type: pa.DataType
    nullable: bool
    fast: frozenset[type] | None
    convert: Any


def _json_kind(doc: Any) -> str:
    if isinstance(doc, list):
        return "array"
    if isinstance(doc, str):
        return "string"
    if isinstance(doc, bool):
        return "boolean"
    if doc is None:
        return "null"
    return "number"
