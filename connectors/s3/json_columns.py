"""JSON values → Arrow column values, with the coercions of Firehose's OpenX JSON SerDe.

:func:`converter` compiles, once per column, a function that takes a parsed JSON value and
returns the Python value ``pyarrow.array`` expects for the column's type, or raises
:class:`Mismatch` with the reason. What is coerced (what "can be coerced" means here):

- numbers ← JSON numbers, and strings holding a number (``"12.5"``); integers also from a
  float with no fraction (``3.0``); out-of-range integers are a mismatch;
- booleans ← ``true``/``false`` and the strings ``"true"``/``"false"`` (any case);
- strings ← strings, numbers and booleans (their JSON text); objects and arrays are mismatches;
- binary ← strings (UTF-8); decimals ← numbers or numeric strings, rounded half-up to the scale;
- dates ← ``"YYYY-MM-DD"`` or days since the epoch; timestamps ← ISO-8601 text (UTC unless it
  says otherwise) or epoch numbers in the column's unit; times ← numbers in the column's unit;
- structs ← objects (keys matched by :class:`KeyRules`, absent fields null, unknown keys
  ignored), lists ← arrays, maps ← objects.

``null`` is accepted where the field is nullable and a mismatch where it is not.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

__all__ = ["Convert", "KeyRules", "Mismatch", "converter", "fast_types"]

Convert = Callable[[Any], Any]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = dt.date(1970, 1, 1)
_UNIT = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_SHOWN = 60  # characters of a bad value quoted in an error message


class Mismatch(ValueError):
    """A JSON value does not fit its column; ``str()`` is the reason."""


@dataclass(frozen=True, slots=True)
class KeyRules:
    """How JSON keys are matched to column (and nested field) names (OpenX JSON SerDe).

    ``case_insensitive`` (Firehose's default): keys and names compared lower-cased.
    ``dots_to_underscores``: ``a.b`` in JSON is the column ``a_b``.
    ``mappings``: column name → the JSON key that holds it (top-level columns only).
    """

    case_insensitive: bool = True
    dots_to_underscores: bool = False
    mappings: dict[str, str] = field(default_factory=dict)

    def normalise(self, key: str) -> str:
        if self.dots_to_underscores:
            key = key.replace(".", "_")
        return key.lower() if self.case_insensitive else key

    def lookup(self, names: list[str], *, top_level: bool) -> dict[str, int]:
        """Normalised JSON key → index of the name it fills."""
        out: dict[str, int] = {}
        for i, name in enumerate(names):
            key = self.mappings.get(name, name) if top_level else name
            out[key.lower() if self.case_insensitive else key] = i
        return out


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def fast_types(dtype: pa.DataType) -> frozenset[type] | None:
    """Python types ``pyarrow.array`` converts to ``dtype`` exactly as :func:`converter` would
    (so a column holding only these may skip the per-value path), or None."""
    if pa.types.is_boolean(dtype):
        return frozenset({bool, type(None)})
    if pa.types.is_int64(dtype) or pa.types.is_int32(dtype):
        return frozenset({int, type(None)})  # out of range: pyarrow raises, the slow path says why
    if pa.types.is_float64(dtype) or pa.types.is_float32(dtype):
        return frozenset({float, int, type(None)})
    if pa.types.is_string(dtype):
        return frozenset({str, type(None)})
    return None


def converter(dtype: pa.DataType, path: str, rules: KeyRules, nullable: bool = True) -> Convert:
    """The coercion of one JSON value to a value of ``dtype`` (``path`` names it in errors)."""
    inner = _build(dtype, path, rules)

    def convert(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise Mismatch(f"{path}: required, got null or nothing")
        return inner(value)

    return convert


def _build(dtype: pa.DataType, path: str, rules: KeyRules) -> Convert:  # noqa: C901
    t = pa.types
    if t.is_null(dtype):
        def null(value: Any) -> Any:
            raise Mismatch(f"{path}: expected null, got {_show(value)}")
        return null
    if t.is_boolean(dtype):
        return lambda v: _boolean(v, path)
    if t.is_integer(dtype):
        lo, hi = _int_range(dtype)
        return lambda v: _integer(v, path, lo, hi, str(dtype))
    if t.is_floating(dtype):
        return lambda v: _floating(v, path, str(dtype))
    if t.is_string(dtype) or t.is_large_string(dtype):
        return lambda v: _string(v, path)
    if t.is_fixed_size_binary(dtype):
        width = dtype.byte_width
        return lambda v: _binary(v, path, width)
    if t.is_binary(dtype) or t.is_large_binary(dtype):
        return lambda v: _binary(v, path, None)
    if t.is_decimal(dtype):
        return _decimal(dtype, path)
    if t.is_date32(dtype) or t.is_date64(dtype):
        return lambda v: _date(v, path)
    if t.is_timestamp(dtype):
        per_second = _UNIT[dtype.unit]
        return lambda v: _timestamp(v, path, per_second)
    if t.is_time(dtype):
        return lambda v: _integer(v, path, 0, 86_400 * _UNIT[dtype.unit] - 1, str(dtype))
    if t.is_struct(dtype):
        return _struct(dtype, path, rules)
    if t.is_list(dtype) or t.is_large_list(dtype):
        item = converter(dtype.value_type, f"{path}[]", rules, dtype.value_field.nullable)

        def items(value: Any) -> Any:
            if not isinstance(value, list):
                raise Mismatch(f"{path}: expected an array, got {_show(value)}")
            return [item(v) for v in value]
        return items
    if t.is_map(dtype):
        val = converter(dtype.item_type, f"{path}{{}}", rules, dtype.item_field.nullable)

        def entries(value: Any) -> Any:
            if not isinstance(value, dict):
                raise Mismatch(f"{path}: expected an object, got {_show(value)}")
            return [(k, val(v)) for k, v in value.items()]
        return entries
    raise Mismatch(f"{path}: unsupported column type {dtype}")


def _int_range(dtype: pa.DataType) -> tuple[int, int]:
    bits = dtype.bit_width
    if pa.types.is_unsigned_integer(dtype):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _boolean(value: Any, path: str) -> bool:
    if type(value) is bool:
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise Mismatch(f"{path}: expected a boolean, got {_show(value)}")


def _integer(value: Any, path: str, lo: int, hi: int, kind: str) -> int:
    if type(value) is int:
        n = value
    elif type(value) is float and value.is_integer():
        n = int(value)
    elif isinstance(value, str):
        try:
            n = int(value.strip())
        except ValueError:
            raise Mismatch(f"{path}: expected {kind}, got {_show(value)}") from None
    else:
        raise Mismatch(f"{path}: expected {kind}, got {_show(value)}")
    if not lo <= n <= hi:
        raise Mismatch(f"{path}: {n} is out of range for {kind}")
    return n


def _floating(value: Any, path: str, kind: str) -> float:
    if type(value) in (float, int):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise Mismatch(f"{path}: expected {kind}, got {_show(value)}")


def _string(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return orjson.dumps(value).decode()
    raise Mismatch(f"{path}: expected a string, got {_show(value)}")


def _binary(value: Any, path: str, width: int | None) -> bytes:
    if not isinstance(value, str):
        raise Mismatch(f"{path}: expected a string for binary, got {_show(value)}")
    data = value.encode()
    if width is not None and len(data) != width:
        raise Mismatch(f"{path}: expected {width} bytes, got {len(data)}")
    return data


def _decimal(dtype: pa.DataType, path: str) -> Convert:
    quantum = decimal.Decimal(1).scaleb(-dtype.scale)
    limit = decimal.Decimal(10) ** (dtype.precision - dtype.scale)

    def convert(value: Any) -> decimal.Decimal:
        if type(value) in (int, float) or isinstance(value, str):
            try:
                number = decimal.Decimal(str(value).strip())
            except decimal.InvalidOperation:
                number = decimal.Decimal("NaN")
            if number.is_finite():
                rounded = number.quantize(quantum, rounding=decimal.ROUND_HALF_UP)
                if abs(rounded) < limit:
                    return rounded
                raise Mismatch(f"{path}: {value} does not fit {dtype}")
        raise Mismatch(f"{path}: expected {dtype}, got {_show(value)}")

    return convert


def _date(value: Any, path: str) -> dt.date:
    try:
        if type(value) is int:
            return _EPOCH_DATE + dt.timedelta(days=value)
        if isinstance(value, str):
            return dt.date.fromisoformat(value.strip())
    except (ValueError, OverflowError):
        pass
    raise Mismatch(f"{path}: expected a date, got {_show(value)}")


def _timestamp(value: Any, path: str, per_second: int) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            delta = moment - _EPOCH
            return (delta.days * 86_400 + delta.seconds) * per_second + (
                delta.microseconds * per_second // 1_000_000
            )
    raise Mismatch(f"{path}: expected a timestamp, got {_show(value)}")


def _struct(dtype: pa.DataType, path: str, rules: KeyRules) -> Convert:
    fields = [dtype.field(i) for i in range(dtype.num_fields)]
    names = [f.name for f in fields]
    lookup = rules.lookup(names, top_level=False)
    converts = [converter(f.type, f"{path}.{f.name}", rules, f.nullable) for f in fields]

    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise Mismatch(f"{path}: expected an object, got {_show(value)}")
        found: list[Any] = [None] * len(names)
        for key, item in value.items():
            index = lookup.get(rules.normalise(key))
            if index is not None:
                found[index] = item
        return {name: conv(v) for name, conv, v in zip(names, converts, found, strict=True)}

    return convert
