"""Record formats out: rows of an output stream → Kafka record bytes.

:func:`build_encoder` writes one output row per record: a JSON object keyed by the
column names, or one CSV line without a row delimiter (NULL is an empty field, the empty
string ``""``). Values go through KDA's text forms (TIMESTAMP ``YYYY-MM-DD HH:MM:SS.fff``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from ground.errors import RowError
from pipelines.sql.appconfig import OutputFormat
from pipelines.sql.record_schema import Column
from pipelines.sql.types import (
    COERCION_ERROR,
    Date,
    Interval,
    SqlType,
    Time,
    Timestamp,
    TypeKind,
    format_value,
)

__all__ = ["CsvEncoder", "JsonEncoder", "RowEncoder", "build_encoder", "timestamp_text"]


class RowEncoder:
    """Encodes rows of one output stream; ``encode(row)`` gives one record's bytes."""

    def __init__(self, columns: Sequence[Column], fmt: OutputFormat) -> None:
        self.columns = tuple(columns)
        self.format = fmt
        self._n = len(self.columns)

    def encode(self, row: Sequence[Any]) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode_many(self, rows: Sequence[Sequence[Any]], skip: int = 0) -> list[bytes]:
        """:meth:`encode` of each row's values from position ``skip`` on (1: a stream row,
        whose ROWTIME is no column)."""
        encode = self.encode
        if skip:
            return [encode(row[skip:]) for row in rows]
        return [encode(row) for row in rows]

    def _check(self, row: Sequence[Any]) -> None:
        if len(row) != self._n:
            raise ValueError(f"a row of {len(row)} values for {self._n} columns")


def build_encoder(columns: Sequence[Column], fmt: OutputFormat | str) -> RowEncoder:
    """The encoder of rows of ``columns`` in ``fmt`` (``JSON`` or ``CSV``)."""
    try:
        kind = OutputFormat(str(fmt).upper())
    except ValueError:
        raise ValueError(f"output format is JSON or CSV, got {fmt!r}") from None
    if kind is OutputFormat.JSON:
        return JsonEncoder(columns, kind)
    return CsvEncoder(columns, kind)


@lru_cache(maxsize=4096)
def _second_text(second: int) -> str:
    moment = time.gmtime(second)
    return (
        f"{moment.tm_year:04d}-{moment.tm_mon:02d}-{moment.tm_mday:02d} "
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d}"
    )


def timestamp_text(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.fff`` of epoch milliseconds, as :meth:`Timestamp.text` but
    faster (the text of each second is cached: rows of a batch share their seconds)."""
    second, millis = divmod(int(ms), 1000)
    if not 0 <= second < 253_402_300_800:  # outside years 1970-9999: the general path
        return Timestamp(ms).text()
    return f"{_second_text(second)}.{millis:03d}"


def _temporal_text(t: SqlType) -> Callable[[Any], Any] | None:
    kind = t.kind
    if kind is TypeKind.TIMESTAMP:
        return lambda v: None if v is None else timestamp_text(v)
    if kind is TypeKind.DATE:
        return lambda v: None if v is None else Date(v).text()
    if kind is TypeKind.TIME:
        return lambda v: None if v is None else Time(v).text()
    return None


def _json_default(value: Any) -> Any:
    formatted = format_value(value)
    if formatted is value:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
    return formatted


def _object_builder(
    names: Sequence[str], formatted: dict[int, Callable[[Any], Any]], skip: int = 0
) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """``row -> {name: value}`` of the values from position ``skip`` on, temporal values as
    text: one dict display, compiled once (a third of the time of ``dict(zip(names, row))``
    on a row of a few columns)."""
    env: dict[str, Any] = {f"f{i}": f for i, f in formatted.items()}
    items = ", ".join(
        f"{name!r}: " + (f"f{i}(row[{i + skip}])" if i in formatted else f"row[{i + skip}]")
        for i, name in enumerate(names)
    )
    exec(compile(f"def build(row):\n    return {{{items}}}\n", "<json row>", "exec"), env)
    build: Callable[[Sequence[Any]], dict[str, Any]] = env["build"]
    return build


class JsonEncoder(RowEncoder):
    def __init__(self, columns: Sequence[Column], fmt: OutputFormat) -> None:
        super().__init__(columns, fmt)
        self._names = [c.name for c in self.columns]
        self._temporal = {
            i: f
            for i, c in enumerate(self.columns)
            if (f := _temporal_text(c.sql_type)) is not None
        }
        self._object = _object_builder(self._names, self._temporal)
        self._skipping: dict[int, Callable[[Sequence[Any]], dict[str, Any]]] = {}

    def encode(self, row: Sequence[Any]) -> bytes:
        if len(row) != self._n:
            self._check(row)
        try:
            return orjson.dumps(self._object(row), default=_json_default)
        except (orjson.JSONEncodeError, OverflowError, ValueError, TypeError) as exc:
            raise RowError(COERCION_ERROR, f"cannot write the row as JSON: {exc}") from None

    def encode_many(self, rows: Sequence[Sequence[Any]], skip: int = 0) -> list[bytes]:
        build = self._skipping.get(skip)
        if build is None:
            build = self._skipping[skip] = _object_builder(self._names, self._temporal, skip)
        width, dumps = self._n + skip, orjson.dumps
        out: list[bytes] = []
        append = out.append
        for row in rows:
            if len(row) != width:
                self._check(row[skip:])
            try:
                append(dumps(build(row), default=_json_default))
            except (orjson.JSONEncodeError, OverflowError, ValueError, TypeError) as exc:
                raise RowError(COERCION_ERROR, f"cannot write the row as JSON: {exc}") from None
        return out


class CsvEncoder(RowEncoder):
    delimiter = ","

    def __init__(self, columns: Sequence[Column], fmt: OutputFormat) -> None:
        super().__init__(columns, fmt)
        self._fields = [self._field(c.sql_type) for c in self.columns]

    def _field(self, t: SqlType) -> Callable[[Any], str]:
        temporal = _temporal_text(t)
        quote = self._quote

        def text(v: Any) -> str:
            if v is None:
                return ""
            if type(v) is str:
                return quote(v) if v else '""'
            if temporal is not None:
                return str(temporal(v))
            if isinstance(v, bool):
                return "TRUE" if v else "FALSE"
            if isinstance(v, Interval):
                return str(int(v))
            if isinstance(v, Timestamp | Date | Time):
                return v.text()
            if isinstance(v, bytes):
                return v.hex()
            if isinstance(v, Decimal | int | float):
                return str(v)
            return quote(str(v))

        return text

    def _quote(self, text: str) -> str:
        if self.delimiter in text or '"' in text or "\n" in text or "\r" in text:
            return '"' + text.replace('"', '""') + '"'
        return text

    def encode(self, row: Sequence[Any]) -> bytes:
        if len(row) != self._n:
            self._check(row)
        try:
            fields = [f(v) for f, v in zip(self._fields, row, strict=False)]
        except (OverflowError, ValueError, TypeError) as exc:
            raise RowError(COERCION_ERROR, f"cannot write the row as CSV: {exc}") from None
        return self.delimiter.join(fields).encode("utf-8")
