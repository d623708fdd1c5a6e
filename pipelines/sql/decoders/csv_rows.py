"""CSV records → rows: delimited UTF-8 text, fields by position."""

from __future__ import annotations

import csv
import io

from ground.errors import RowError
from pipelines.sql.decoders.base import MALFORMED_RECORD, SCHEMA_MISMATCH, RowDecoder
from pipelines.sql.decoders.converters import text_converter
from pipelines.sql.record_schema import InputSchema
from pipelines.sql.types import Row

__all__ = ["CsvDecoder"]


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
