"""The decoder of an input schema, by its record format."""

from __future__ import annotations

from pipelines.sql.decoders.avro_rows import AvroDecoder
from pipelines.sql.decoders.base import RowDecoder
from pipelines.sql.decoders.csv_rows import CsvDecoder
from pipelines.sql.decoders.json_rows import JsonDecoder
from pipelines.sql.record_schema import InputSchema, RecordFormatType
from schemas import SchemaCatalog

__all__ = ["build_decoder"]


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
