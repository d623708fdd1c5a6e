"""JSON/Avro values and CSV text → values of a column's SQL type, as KDA converts them; the
same conversion compiled inline for columns that are top-level members.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from ground.errors import RowError
from pipelines.sql.types import COERCION_ERROR, Row, SqlType, Timestamp, TypeKind, coerce
from pipelines.sql.types.kinds import INTEGER_RANGES, STRING_KINDS

__all__ = ["Converter", "member_lines", "member_rows", "text_converter", "value_converter"]


Converter = Callable[[Any], Any]


_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def value_converter(t: SqlType) -> Converter:
    """JSON/Avro value → value of ``t``, with fast paths for the common exact types."""
    kind = t.kind
    is_string = kind in STRING_KINDS
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
    if kind in INTEGER_RANGES:
        low, high = INTEGER_RANGES[kind]
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
    if kind in STRING_KINDS:
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


def member_lines(
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
        if kind in STRING_KINDS:
            check = f"type({v}) is not str"
            if t.length is not None:
                check += f" or len({v}) > {int(t.length)}"
            lines.append(f"    if {check}:")
            lines.append(f"        {v} = c{i}({v})")
        elif kind in (TypeKind.REAL, TypeKind.DOUBLE):
            lines.append(f"    if type({v}) is not float:")
            lines.append(f"        {v} = c{i}({v})")
        elif kind in INTEGER_RANGES:
            low, high = INTEGER_RANGES[kind]
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


def member_rows(
    pairs: Sequence[tuple[str, Converter]], types: Sequence[SqlType]
) -> Callable[[dict[str, Any]], list[Row]]:
    """``obj -> [row]`` for columns that are top-level members (see :func:`member_lines`)."""
    env: dict[str, Any] = {}
    lines = ["def rows(obj):", "    get = obj.get", *member_lines(pairs, types, env)]
    values = "".join(f"v{i}, " for i in range(len(pairs)))
    lines.append(f"    return [({values})]")
    exec(compile("\n".join(lines) + "\n", "<member rows>", "exec"), env)
    rows: Callable[[dict[str, Any]], list[Row]] = env["rows"]
    return rows
