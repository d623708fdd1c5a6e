"""Record formats in: Kafka record bytes → typed rows of an in-application stream.

:func:`build_decoder` follows KDA's input mapping (:mod:`pipelines.sql.encoders` writes rows
back as records):

- **JSON** — ``orjson``; each column's ``Mapping`` (JSONPath) is compiled to plain lookups
  (:mod:`pipelines.sql.jsonpath`). A missing element is NULL, as in KDA. ``RecordRowPath``
  says where the rows are: ``$`` (the record; a top-level array gives one row per element),
  ``$.records`` or ``$.records[0:]`` (one row per element of that array; an object there
  is one row). A column mapped through an array (``$.orders[0:].id``) flattens that array:
  one row per element, the other columns repeated, one row of NULLs for an empty array.
  JSON values convert as KDA documents: objects and arrays become their JSON text in
  CHAR/VARCHAR columns, ``true``/``false`` are 1/0 in numeric columns, numbers are
  ``<> 0`` in BOOLEAN columns; everything else goes through :func:`pipelines.sql.types.coerce`
  (so, unlike KDA, a string longer than its VARCHAR is an error rather than cut, and numbers
  are accepted as epoch milliseconds for TIMESTAMP).
- **CSV** — UTF-8 text split on ``RecordRowDelimiter`` (a record may hold several rows;
  empty lines are skipped; with ``\\n`` a trailing ``\\r`` is dropped), fields on
  ``RecordColumnDelimiter``, positionally. Fields in double quotes follow Python's ``csv``
  module (a single-character column delimiter; quotes may hold the column delimiter, and,
  with the ``\\n`` row delimiter, line breaks). Extra fields are ignored (KDA imports the
  first N); fewer fields than columns is ``Schema_Mismatch``. An empty field is NULL except
  in CHAR/VARCHAR columns (the empty string). TIMESTAMP fields take KDA's text form or
  epoch milliseconds.
- **AVRO** — Confluent framing with the schema of ``AvroSchema`` (:mod:`schemas`); columns map
  fields (or paths into nested records) like JSON.

Errors are :class:`~ground.errors.RowError` named like KDA's ``ERROR_NAME``:
``Malformed_Record`` (not UTF-8, not JSON, not CSV, not Avro), ``Schema_Mismatch`` (the
record has the wrong shape: no rows where ``RecordRowPath`` points, a row that is not an
object, too few CSV fields, an Avro record of another schema) and ``Type_Coercion_Error``
(a value that does not fit its column). Decoding raises nothing else, whatever the bytes.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import fastavro
import orjson

from ground.errors import CodecError, RowError, SchemaMismatchError, SchemaRegistryError
from pipelines.sql.jsonpath import Getter, compile_path
from pipelines.sql.record_schema import Column, InputSchema, RecordFormatType
from pipelines.sql.types import COERCION_ERROR, Row, SqlType, Timestamp, TypeKind, coerce
from schemas import AvroPlan, SchemaCatalog, codec_for

__all__ = [
    "AvroDecoder",
    "CsvDecoder",
    "DecodedBatch",
    "JsonDecoder",
    "MALFORMED_RECORD",
    "RECORD_TOO_LARGE",
    "RowDecoder",
    "SCHEMA_MISMATCH",
    "build_decoder",
    "text_converter",
    "value_converter",
]

#: ``ERROR_NAME`` of a record that is not valid in its format at all.
MALFORMED_RECORD = "Malformed_Record"
#: ``ERROR_NAME`` of a record of the wrong shape for the input schema.
SCHEMA_MISMATCH = "Schema_Mismatch"
#: A record over the application's ``Runtime.MaxRecordBytes`` (KDA: rows of at most 512 KB).
RECORD_TOO_LARGE = "Record_Too_Large"

Converter = Callable[[Any], Any]

_STRINGS = (TypeKind.CHAR, TypeKind.VARCHAR)
_INT_RANGE = {
    TypeKind.TINYINT: (-(2**7), 2**7 - 1),
    TypeKind.SMALLINT: (-(2**15), 2**15 - 1),
    TypeKind.INTEGER: (-(2**31), 2**31 - 1),
    TypeKind.BIGINT: (-(2**63), 2**63 - 1),
}
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class DecodedBatch(NamedTuple):
    """The rows of a batch of records, flat. ``sources[i]`` is the index (in the batch) of
    the record ``rows[i]`` came from; ``errors`` pairs a record index with its error."""

    rows: list[Row]
    sources: list[int]
    errors: list[tuple[int, RowError]]


class RowDecoder:
    """Decodes records of one input schema. One record gives 0..n rows (``decode_rows``);
    ``decode`` is the common case of exactly one."""

    columns: tuple[Column, ...]
    #: False when every record gives exactly one row (JSON/AVRO without arrays of rows).
    multi_row: bool = True
    #: ``(prefix, raw) -> prefix + row`` when every record gives exactly one row and the
    #: decoder has a fused fast form (AVRO with top-level members); raises as
    #: :meth:`decode_rows` does for a bad record.
    prefixed: Callable[[Row, bytes], Row] | None = None

    def __init__(self, schema: InputSchema) -> None:
        self.schema = schema
        self.columns = schema.record_columns

    def _decode(self, raw: bytes) -> list[Row]:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode_rows(self, raw: bytes) -> list[Row]:
        """The rows of one record; :class:`RowError` if it cannot be decoded."""
        try:
            return self._decode(raw)
        except (RowError, SchemaRegistryError):  # the registry's failure is no record's
            raise
        except Exception as exc:  # a defect of a library or of ours: still a row error
            raise _unexpected(exc) from exc

    def decode(self, raw: bytes) -> Row:
        """The one row of a record; ``Schema_Mismatch`` if it holds none or several."""
        rows = self.decode_rows(raw)
        if len(rows) != 1:
            raise RowError(SCHEMA_MISMATCH, f"expected one row in the record, found {len(rows)}")
        return rows[0]

    def decode_many(self, raws: Sequence[bytes]) -> DecodedBatch:
        """Decode a batch; never raises for a bad record (it is in ``errors``)."""
        rows: list[Row] = []
        sources: list[int] = []
        errors: list[tuple[int, RowError]] = []
        decode = self._decode
        for i, raw in enumerate(raws):
            try:
                got = decode(raw)
            except RowError as exc:
                errors.append((i, exc))
                continue
            except SchemaRegistryError:
                raise
            except Exception as exc:
                errors.append((i, _unexpected(exc)))
                continue
            if len(got) == 1:
                rows.append(got[0])
                sources.append(i)
            else:
                rows.extend(got)
                sources.extend([i] * len(got))
        return DecodedBatch(rows, sources, errors)


def _unexpected(exc: BaseException) -> RowError:
    return RowError(MALFORMED_RECORD, f"cannot decode the record: {type(exc).__name__}: {exc}")


def build_decoder(schema: InputSchema, catalog: SchemaCatalog | None = None) -> RowDecoder:
    """The decoder of ``schema`` (an input's ``InputSchema`` or a ``ReferenceSchema``);
    ``catalog``: where an AVRO schema and the writers' ids come from (the process's default
    catalog when None)."""
    kind = schema.record_format.record_format_type
    if kind is RecordFormatType.JSON:
        return JsonDecoder(schema)
    if kind is RecordFormatType.CSV:
        return CsvDecoder(schema)
    return AvroDecoder(schema, catalog)


# -- value conversion -----------------------------------------------------------------------


def value_converter(t: SqlType) -> Converter:
    """JSON/Avro value → value of ``t``, with fast paths for the common exact types."""
    kind = t.kind
    is_string = kind in _STRINGS
    is_numeric = t.is_numeric

    def slow(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, dict | list):
            if not is_string:
                what = "object" if isinstance(v, dict) else "array"
                raise RowError(COERCION_ERROR, f"cannot convert a JSON {what} to {t}")
            v = orjson.dumps(v).decode()
        elif isinstance(v, bool):
            if is_numeric:
                v = int(v)  # KDA: true is 1, false is 0
        elif kind is TypeKind.BOOLEAN and isinstance(v, int | float):
            return v != 0  # KDA: 0 is false, other numbers true
        elif isinstance(v, _dt.datetime):  # Avro timestamp-millis/micros
            moment = v if v.tzinfo else v.replace(tzinfo=_dt.UTC)
            v = (moment - _EPOCH_UTC) // _dt.timedelta(milliseconds=1)
        elif isinstance(v, _dt.date):  # Avro date
            v = (v - _EPOCH_UTC.date()).days * 86_400_000
        return coerce(v, t)

    if is_string:
        n = t.length
        if n is None:
            return lambda v: v if type(v) is str else slow(v)
        return lambda v: v if type(v) is str and len(v) <= n else slow(v)
    if kind in (TypeKind.REAL, TypeKind.DOUBLE):
        return lambda v: v if type(v) is float else (float(v) if type(v) is int else slow(v))
    if kind in _INT_RANGE:
        low, high = _INT_RANGE[kind]
        return lambda v: v if type(v) is int and low <= v <= high else slow(v)
    if kind is TypeKind.TIMESTAMP:
        return lambda v: Timestamp(v) if type(v) is int else slow(v)
    if kind is TypeKind.BOOLEAN:
        return lambda v: v if type(v) is bool else slow(v)
    return slow


def text_converter(t: SqlType) -> Converter:
    """CSV field (text) → value of ``t``. Empty is NULL but for strings."""
    base = value_converter(t)
    kind = t.kind
    if kind in _STRINGS:
        return base
    if kind is TypeKind.TIMESTAMP:

        def timestamp(v: str) -> Any:
            if not v:
                return None
            digits = v.strip()
            if digits.lstrip("-").isdigit():
                return Timestamp(int(digits))
            return base(v)

        return timestamp
    return lambda v: base(v) if v else None


# -- JSON and Avro: rows from decoded objects --------------------------------------------------


class _ObjectRows:
    """Rows of a decoded object (a JSON object or an Avro record) by the column mappings."""

    def __init__(self, columns: tuple[Column, ...]) -> None:
        paths = [compile_path(c.mapping or "$") for c in columns]
        self.converters = [value_converter(c.sql_type) for c in columns]
        self.flat = [i for i, p in enumerate(paths) if p.flatten is not None]
        self.array: Getter | None = None
        self.getters: list[Getter] = []
        for p in paths:
            if p.flatten is not None:
                self.array = p.flatten[1]
                self.getters.append(p.flatten[2])
            else:
                self.getters.append(p.get)
        self.pairs = list(zip(self.getters, self.converters, strict=True))
        # the common case: every column is one top-level member
        members = [p.member for p in paths]
        self.key_pairs: list[tuple[str, Converter]] | None = None
        self._members: Callable[[dict[str, Any]], list[Row]] | None = None
        if all(m is not None for m in members):
            self.key_pairs = [
                (m or "", conv) for m, conv in zip(members, self.converters, strict=True)
            ]
            self._members = _member_rows(self.key_pairs, [c.sql_type for c in columns])

    def rows(self, obj: dict[str, Any]) -> list[Row]:
        if self._members is not None:
            return self._members(obj)
        if not self.flat:
            return [tuple([conv(g(obj)) for g, conv in self.pairs])]
        assert self.array is not None
        array = self.array(obj)
        elements = array if isinstance(array, list) and array else [None]
        flat = set(self.flat)
        base = [None if i in flat else g(obj) for i, g in enumerate(self.getters)]
        out = []
        for element in elements:
            values = list(base)
            for i in self.flat:
                values[i] = self.getters[i](element)
            out.append(tuple([conv(v) for conv, v in zip(self.converters, values, strict=True)]))
        return out


def _member_lines(
    pairs: Sequence[tuple[str, Converter]], types: Sequence[SqlType], env: dict[str, Any]
) -> list[str]:
    """Lines (indented 4) that set ``v0``… from ``get`` (``obj.get``) for columns that are
    top-level members: each value is tested for its column's common exact type inline and
    the column's converter is called otherwise (which gives the same value for those types:
    see :func:`value_converter`)."""
    env["Timestamp"] = Timestamp
    lines = []
    for i, ((member, conv), t) in enumerate(zip(pairs, types, strict=True)):
        env[f"k{i}"], env[f"c{i}"] = member, conv
        v = f"v{i}"
        lines.append(f"    {v} = get(k{i})")
        kind = t.kind
        if kind in _STRINGS:
            check = f"type({v}) is not str"
            if t.length is not None:
                check += f" or len({v}) > {int(t.length)}"
            lines.append(f"    if {check}:")
            lines.append(f"        {v} = c{i}({v})")
        elif kind in (TypeKind.REAL, TypeKind.DOUBLE):
            lines.append(f"    if type({v}) is not float:")
            lines.append(f"        {v} = c{i}({v})")
        elif kind in _INT_RANGE:
            low, high = _INT_RANGE[kind]
            lines.append(f"    if type({v}) is not int or {v} < {low} or {v} > {high}:")
            lines.append(f"        {v} = c{i}({v})")
        elif kind is TypeKind.TIMESTAMP:
            lines.append(f"    {v} = Timestamp({v}) if type({v}) is int else c{i}({v})")
        elif kind is TypeKind.BOOLEAN:
            lines.append(f"    if type({v}) is not bool:")
            lines.append(f"        {v} = c{i}({v})")
        else:
            lines.append(f"    {v} = c{i}({v})")
    return lines


def _member_rows(
    pairs: Sequence[tuple[str, Converter]], types: Sequence[SqlType]
) -> Callable[[dict[str, Any]], list[Row]]:
    """``obj -> [row]`` for columns that are top-level members (see :func:`_member_lines`)."""
    env: dict[str, Any] = {}
    lines = ["def rows(obj):", "    get = obj.get", *_member_lines(pairs, types, env)]
    values = "".join(f"v{i}, " for i in range(len(pairs)))
    lines.append(f"    return [({values})]")
    exec(compile("\n".join(lines) + "\n", "<member rows>", "exec"), env)
    rows: Callable[[dict[str, Any]], list[Row]] = env["rows"]
    return rows


class JsonDecoder(RowDecoder):
    def __init__(self, schema: InputSchema) -> None:
        super().__init__(schema)
        self._objects = _ObjectRows(self.columns)
        self._row_path = compile_path(schema.record_format.record_row_path)
        self._whole = self._row_path.text == "$"
        self.multi_row = True  # a top-level array is several rows
        self._members = self._objects._members if self._whole else None

    def decode_rows(self, raw: bytes) -> list[Row]:
        # The common record — one JSON object, columns that are its members — in one frame;
        # the same rows and errors as the general path (``_decode`` under ``decode_rows``).
        members = self._members
        if members is None or raw is None:
            return super().decode_rows(raw)
        try:
            doc = orjson.loads(raw)
            if type(doc) is dict:
                return members(doc)
            return self.rows_of(doc)
        except RowError:
            raise
        except orjson.JSONDecodeError as exc:
            raise RowError(MALFORMED_RECORD, f"invalid JSON: {exc}") from None
        except Exception as exc:
            raise _unexpected(exc) from exc

    def _decode(self, raw: bytes) -> list[Row]:
        if raw is None:
            raise RowError(MALFORMED_RECORD, "empty record (a tombstone)")
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise RowError(MALFORMED_RECORD, f"invalid JSON: {exc}") from None
        return self.rows_of(doc)

    def rows_of(self, doc: Any) -> list[Row]:
        """The rows of an already parsed JSON document."""
        target = doc if self._whole else self._row_path.get(doc)
        if type(target) is dict:
            return self._objects.rows(target)
        if target is None:
            raise RowError(
                SCHEMA_MISMATCH, f"nothing at RecordRowPath {self._row_path.text} in the record"
            )
        if isinstance(target, list):
            rows: list[Row] = []
            for element in target:
                if not isinstance(element, dict):
                    raise RowError(
                        SCHEMA_MISMATCH, f"a row is a JSON {_json_kind(element)}, not an object"
                    )
                rows.extend(self._objects.rows(element))
            return rows
        raise RowError(SCHEMA_MISMATCH, f"the row is a JSON {_json_kind(target)}, not an object")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


class AvroDecoder(RowDecoder):
    """Confluent-framed Avro read as ``AvroSchema`` (the reader's schema). Each record's id
    names its writer's schema: without a schema registry only the schema's fixed id is
    read; with one, any id the registry knows, resolved to the reader's schema (a field
    added with a default, a field removed...). An id nobody knows, or a writer schema that
    cannot be resolved, is a ``Schema_Mismatch`` error row; a registry that does not answer
    stops the batch (:class:`~ground.errors.SchemaRegistryError`)."""

    def __init__(self, schema: InputSchema, catalog: SchemaCatalog | None = None) -> None:
        super().__init__(schema)
        name = schema.record_format.avro_schema
        if name is None:
            raise ValueError("an AVRO input schema needs AvroSchema")
        self._codec = codec_for("avro", name, catalog=catalog)
        #: Confluent header (5 bytes) → (writer, reader) of the ids read so far: the fast
        #: path's plans, filled by :meth:`_decode` as new ids come (the fixed id up front).
        self._plans: dict[bytes, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        fixed = self._codec.catalog.fixed_id(name)
        if self._codec.catalog.registry is None and fixed is not None:
            self._remember(self._codec.plan(fixed))
        self._objects = _ObjectRows(self.columns)
        self.multi_row = bool(self._objects.flat)
        if self._objects.key_pairs is not None:
            self.prefixed = self._compile_prefixed()

    def _remember(self, plan: AvroPlan) -> None:
        self._plans[b"\x00" + plan.schema_id.to_bytes(4, "big")] = (plan.writer, plan.reader)

    def _compile_prefixed(self) -> Callable[[Row, bytes], Row]:
        """``(prefix, raw) -> prefix + row`` of a record that gives exactly one row: the
        Confluent header looked up in the known ids' plans, one ``fastavro.schemaless_reader``
        call, the members converted inline into one tuple. Anything unusual (an id not seen
        yet, a bad header, an exception, trailing bytes, not a record) goes through
        :meth:`decode_rows`, which raises the right :class:`RowError` — so results and errors
        are those of ``decode_rows``."""
        pairs = self._objects.key_pairs
        assert pairs is not None
        env: dict[str, Any] = {
            "plans": self._plans,
            "read": fastavro.schemaless_reader,
            "BytesIO": io.BytesIO,
            "slow": self._slow_one,
        }
        lines = [
            "def prefixed(prefix, raw):",
            "    plan = plans.get(raw[:5])",
            "    if plan is None:",
            "        return prefix + slow(raw)",
            "    buf = BytesIO(raw)",
            "    buf.seek(5)",
            "    try:",
            "        obj = read(buf, plan[0], plan[1])",
            "    except Exception:",
            "        return prefix + slow(raw)",
            "    if buf.tell() != len(raw) or type(obj) is not dict:",
            "        return prefix + slow(raw)",
            "    get = obj.get",
            *_member_lines(pairs, [c.sql_type for c in self.columns], env),
        ]
        values = "".join(f"v{i}, " for i in range(len(pairs)))
        lines.append(f"    return prefix + ({values})")
        exec(compile("\n".join(lines) + "\n", "<avro rows>", "exec"), env)
        prefixed: Callable[[Row, bytes], Row] = env["prefixed"]
        return prefixed

    def _slow_one(self, raw: bytes) -> Row:
        rows = self.decode_rows(raw)  # raises the RowError of a bad record
        if len(rows) != 1:  # pragma: no cover - members-only columns give one row
            raise RowError(SCHEMA_MISMATCH, f"expected one row in the record, found {len(rows)}")
        return rows[0]

    def _decode(self, raw: bytes) -> list[Row]:
        if raw is None or len(raw) < 5 or raw[0] != 0:
            raise RowError(MALFORMED_RECORD, "not Avro in the Confluent wire format")
        raw = bytes(raw)
        try:
            plan = self._codec.plan(int.from_bytes(raw[1:5], "big"), raw)
            if raw[:5] not in self._plans:
                self._remember(plan)
            record = self._codec.decode(raw)
        except SchemaMismatchError as exc:
            raise RowError(SCHEMA_MISMATCH, exc.reason) from None
        except CodecError as exc:
            raise RowError(MALFORMED_RECORD, exc.reason) from None
        return self._objects.rows(record)


class CsvDecoder(RowDecoder):
    def __init__(self, schema: InputSchema) -> None:
        super().__init__(schema)
        fmt = schema.record_format
        self._rows = fmt.record_row_delimiter
        self._cols = fmt.record_column_delimiter
        self._skip = fmt.skip_header_lines
        self._n = len(self.columns)
        self._converters = [text_converter(c.sql_type) for c in self.columns]

    def _decode(self, raw: bytes) -> list[Row]:
        if raw is None:
            raise RowError(MALFORMED_RECORD, "empty record (a tombstone)")
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RowError(MALFORMED_RECORD, f"not UTF-8 text: {exc}") from None
        return [self.row(fields) for fields in self.split(text)]

    def split(self, text: str) -> list[list[str]]:
        """The field lists of ``text``, header lines and empty lines left out."""
        if '"' in text and len(self._cols) == 1:
            lines = self._quoted(text)
        else:
            lines = [line.split(self._cols) for line in self._lines(text)]
        if self._skip:
            lines = lines[self._skip :]
        return [fields for fields in lines if fields and fields != [""]]

    def _lines(self, text: str) -> list[str]:
        lines = text.split(self._rows)
        if self._rows == "\n":
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        return lines

    def _quoted(self, text: str) -> list[list[str]]:
        try:
            if self._rows == "\n":
                return list(csv.reader(io.StringIO(text, newline=""), delimiter=self._cols))
            return [
                next(csv.reader([line], delimiter=self._cols), [])
                for line in text.split(self._rows)
            ]
        except csv.Error as exc:
            raise RowError(MALFORMED_RECORD, f"invalid CSV: {exc}") from None

    def row(self, fields: list[str]) -> Row:
        """The row of one line's fields."""
        if len(fields) < self._n:
            raise RowError(
                SCHEMA_MISMATCH, f"{len(fields)} fields where {self._n} columns are expected"
            )
        return tuple([conv(v) for conv, v in zip(self._converters, fields, strict=False)])
