"""Rows of a decoded object (a JSON object or an Avro record) by the columns' mappings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.sql.decoders.converters import Converter, member_rows, value_converter
from pipelines.sql.jsonpath import Getter, compile_path
from pipelines.sql.record_schema import Column
from pipelines.sql.types import Row

__all__ = ["ObjectRows"]


class ObjectRows:
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
            self._members = member_rows(self.key_pairs, [c.sql_type for c in columns])

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
