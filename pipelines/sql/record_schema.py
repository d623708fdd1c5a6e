"""KDA's ``SourceSchema``: the record format, encoding and columns of an input stream (its
``InputSchema``) or of a reference table (its ``ReferenceSchema``), and how
``application.yaml`` spells them (see :mod:`pipelines.sql.appconfig` for the whole file)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from ground.config_reader import TypedReader, describe
from ground.errors import ConfigError
from pipelines.sql.jsonpath import JsonPath, compile_path
from pipelines.sql.types import SqlType, parse_type
from schemas import load_schema

__all__ = [
    "DEFAULT_COLUMN_DELIMITER",
    "DEFAULT_ROW_DELIMITER",
    "DEFAULT_ROW_PATH",
    "ENCODING",
    "Column",
    "InputSchema",
    "RecordFormat",
    "RecordFormatType",
    "kda_name",
    "parse_schema",
]

DEFAULT_ROW_DELIMITER = "\n"
DEFAULT_COLUMN_DELIMITER = ","
DEFAULT_ROW_PATH = "$"
ENCODING = "UTF-8"
_KDA_NAME = re.compile(r"^[^-\s<>&]+$")  # KDA's pattern for stream, column and table names


class RecordFormatType(StrEnum):
    JSON = "JSON"
    CSV = "CSV"
    AVRO = "AVRO"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of an in-application stream or table. ``mapping`` is the source element
    (a JSONPath for JSON, a field or path for AVRO, ``None`` for CSV and outputs)."""

    name: str
    sql_type: SqlType
    mapping: str | None = None


@dataclass(frozen=True, slots=True)
class RecordFormat:
    record_format_type: RecordFormatType
    #: JSON: where the rows of a record are (``JSONMappingParameters.RecordRowPath``).
    record_row_path: str = DEFAULT_ROW_PATH
    #: CSV (``CSVMappingParameters``).
    record_row_delimiter: str = DEFAULT_ROW_DELIMITER
    record_column_delimiter: str = DEFAULT_COLUMN_DELIMITER
    skip_header_lines: int = 0
    #: AVRO: the schema name in ``schemas/``.
    avro_schema: str | None = None


@dataclass(frozen=True, slots=True)
class InputSchema:
    """KDA's ``SourceSchema``: the ``InputSchema`` of an input and the ``ReferenceSchema`` of
    a reference data source. ``path`` is where it sits in the configuration, for errors."""

    record_format: RecordFormat
    record_columns: tuple[Column, ...]
    record_encoding: str = ENCODING
    path: str = field(default="", compare=False)

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.record_columns

    @property
    def format_type(self) -> RecordFormatType:
        return self.record_format.record_format_type


def kda_name(r: TypedReader, key: str, *, max_len: int) -> str:
    value = r.string(key)
    if not _KDA_NAME.match(value) or len(value) > max_len:
        raise ConfigError(
            r.name(key),
            f"expected 1-{max_len} characters without whitespace, '-', '<', '>' or '&', "
            f"got {value!r}",
        )
    return value


def parse_schema(r: TypedReader, *, reference: bool) -> InputSchema:
    r.check_keys(("RecordFormat", "RecordEncoding", "RecordColumns"))
    encoding = r.string("RecordEncoding", ENCODING)
    if encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        raise ConfigError(r.name("RecordEncoding"), f"only UTF-8 is supported, got {encoding!r}")
    fmt = _parse_format(r.section("RecordFormat", required=True), reference=reference)
    columns = tuple(_parse_column(c, fmt) for c in r.items("RecordColumns", required=True))
    if not columns:
        raise ConfigError(r.name("RecordColumns"), "at least one column is required")
    seen: set[str] = set()
    for i, col in enumerate(columns):
        if col.name in seen:
            raise ConfigError(f"{r.name('RecordColumns')}[{i}].Name", f"{col.name} is repeated")
        seen.add(col.name)
    if fmt.record_format_type is RecordFormatType.JSON:
        _check_flattening(r, columns)
    return InputSchema(fmt, columns, ENCODING, path=r.path)


def _parse_format(r: TypedReader, *, reference: bool) -> RecordFormat:
    r.check_keys(("RecordFormatType", "MappingParameters", "AvroSchema"))
    kind: RecordFormatType = r.choice("RecordFormatType", RecordFormatType)
    if reference and kind is RecordFormatType.AVRO:
        raise ConfigError(r.name("RecordFormatType"), "reference data is JSON or CSV")
    params = r.section("MappingParameters")
    params.check_keys(("JSONMappingParameters", "CSVMappingParameters"))
    json_params = params.section("JSONMappingParameters")
    csv_params = params.section("CSVMappingParameters")
    if kind is not RecordFormatType.JSON and json_params.data:
        raise ConfigError(json_params.path, f"only for JSON, the format is {kind}")
    if kind is not RecordFormatType.CSV and csv_params.data:
        raise ConfigError(csv_params.path, f"only for CSV, the format is {kind}")
    json_params.check_keys(("RecordRowPath",))
    csv_params.check_keys(("RecordRowDelimiter", "RecordColumnDelimiter", "SkipHeaderLines"))
    row_path = json_params.string("RecordRowPath", DEFAULT_ROW_PATH)
    try:
        compiled = compile_path(row_path)
    except ValueError as exc:
        raise ConfigError(json_params.name("RecordRowPath"), str(exc)) from None
    if compiled.flatten is not None or compiled.general:
        raise ConfigError(
            json_params.name("RecordRowPath"),
            "expected $, a member path ($.records) or an array of rows ($.records[0:])",
        )
    row_delim = csv_params.string("RecordRowDelimiter", DEFAULT_ROW_DELIMITER)
    col_delim = csv_params.string("RecordColumnDelimiter", DEFAULT_COLUMN_DELIMITER)
    for key, value in (("RecordRowDelimiter", row_delim), ("RecordColumnDelimiter", col_delim)):
        if not value:
            raise ConfigError(csv_params.name(key), "must not be empty")
        if '"' in value:
            raise ConfigError(csv_params.name(key), "must not contain the quote character '\"'")
    if row_delim == col_delim:
        raise ConfigError(csv_params.name("RecordColumnDelimiter"), "same as RecordRowDelimiter")
    skip = csv_params.integer("SkipHeaderLines", 0, None, 0)
    avro_schema: str | None = None
    if kind is RecordFormatType.AVRO:
        avro_schema = r.string("AvroSchema")
        try:  # a file of the schema folder, a registry subject, a bundled example
            load_schema(avro_schema)
        except ConfigError as exc:
            raise ConfigError(r.name("AvroSchema"), exc.message) from None
    elif r.get("AvroSchema") is not None:
        raise ConfigError(r.name("AvroSchema"), f"only for AVRO, the format is {kind}")
    return RecordFormat(kind, row_path, row_delim, col_delim, skip, avro_schema)


def _parse_column(r: TypedReader, fmt: RecordFormat) -> Column:
    r.check_keys(("Name", "SqlType", "Mapping", "IsDropped"))
    name = kda_name(r, "Name", max_len=256)
    type_text = r.string("SqlType")
    try:
        sql_type = parse_type(type_text)
    except ValueError as exc:
        raise ConfigError(r.name("SqlType"), str(exc)) from None
    if r.get("IsDropped") not in (None, False):
        raise ConfigError(r.name("IsDropped"), "dropped columns are not supported; remove it")
    mapping = r.get("Mapping")
    if mapping is not None and not isinstance(mapping, str):
        raise ConfigError(r.name("Mapping"), f"expected a string, got {describe(mapping)}")
    mapping = mapping or None
    kind = fmt.record_format_type
    if kind is RecordFormatType.CSV:
        if mapping is not None:
            raise ConfigError(r.name("Mapping"), "CSV columns are positional: remove Mapping")
    elif kind is RecordFormatType.JSON:
        if mapping is None:
            raise ConfigError(r.name("Mapping"), "is required for JSON: a JSONPath like $.name")
        _compile(r, mapping)
    else:
        mapping = _avro_mapping(r, name, mapping, fmt.avro_schema or "")
    return Column(name, sql_type, mapping)


def _compile(r: TypedReader, mapping: str) -> JsonPath:
    try:
        return compile_path(mapping)
    except ValueError as exc:
        raise ConfigError(r.name("Mapping"), str(exc)) from None


def _avro_mapping(r: TypedReader, name: str, mapping: str | None, schema_name: str) -> str:
    """The JSONPath of an AVRO column: ``Mapping`` as a path or a field name, or the field
    named like the column (ignoring case)."""
    fields = [f["name"] for f in load_schema(schema_name)["fields"]]
    if mapping is None:
        matches = [f for f in fields if f.lower() == name.lower()]
        if not matches:
            raise ConfigError(
                r.name("Mapping"),
                f"no field of {schema_name} is named {name} (ignoring case); "
                f"set Mapping to one of: {', '.join(fields)}",
            )
        return f"$['{matches[0]}']"
    path = mapping if mapping.startswith("$") else f"$['{mapping}']"
    compiled = _compile(r, path)
    first = re.match(r"""^\$(?:\.([^.\[\]'"]+)|\[\s*['"]([^'"]*)['"]\s*\])""", path)
    top = (first.group(1) or first.group(2)) if first else None
    if not compiled.general and top is not None and top not in fields:
        raise ConfigError(
            r.name("Mapping"), f"{schema_name} has no field {top!r}; fields: {', '.join(fields)}"
        )
    return path


def _check_flattening(r: TypedReader, columns: tuple[Column, ...]) -> None:
    arrays: dict[str, int] = {}
    for i, col in enumerate(columns):
        compiled = compile_path(col.mapping or "$")
        if compiled.flatten is not None:
            arrays.setdefault(compiled.flatten[0], i)
    if len(arrays) > 1:
        second = sorted(arrays.values())[1]
        raise ConfigError(
            f"{r.name('RecordColumns')}[{second}].Mapping",
            "only one array can be flattened per schema (as in KDA): " + ", ".join(sorted(arrays)),
        )
