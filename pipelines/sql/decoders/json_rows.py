"""JSON records → rows (``RecordRowPath``, one row per element of an array of rows)."""

from __future__ import annotations

from typing import Any

import orjson

from ground.errors import RowError
from pipelines.sql.decoders.base import (
    MALFORMED_RECORD,
    SCHEMA_MISMATCH,
    RowDecoder,
    unexpected_error,
)
from pipelines.sql.decoders.objects import ObjectRows
from pipelines.sql.jsonpath import compile_path
from pipelines.sql.record_schema import InputSchema
from pipelines.sql.types import Row

__all__ = ["JsonDecoder"]


class JsonDecoder(RowDecoder):
    def __init__(self, schema: InputSchema) -> None:
        super().__init__(schema)
        self._objects = ObjectRows(self.columns)
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
            raise unexpected_error(exc) from exc

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
