"""Decoded values (JSON, CSV text, Avro) → values of a SQL type, as KDA's input mapping
converts them; values → their JSON-safe output form.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ground.errors import RowError
from pipelines.sql.types.kinds import (
    APPROX_KINDS,
    BINARY_KINDS,
    INTEGER_KINDS,
    INTEGER_RANGES,
    STRING_KINDS,
    SqlType,
    TypeKind,
)
from pipelines.sql.types.values import MS_PER_DAY, Date, Interval, Time, Timestamp, parse_timestamp

__all__ = ["COERCION_ERROR", "coerce", "format_value"]


#: ``ERROR_NAME`` of a value that cannot be converted to its column's type.
COERCION_ERROR = "Type_Coercion_Error"


def _fail(value: Any, target: SqlType) -> RowError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return RowError(COERCION_ERROR, f"cannot convert {shown} to {target}")


def coerce(value: Any, target: SqlType) -> Any:
    """Convert a decoded value (JSON, CSV text, Avro) to ``target``, as KDA's input mapping does.

    ``None`` stays ``None``. Numbers become TIMESTAMPs as epoch milliseconds; strings are parsed.
    Strings longer than a VARCHAR's length are an error, not silently cut. Raises
    :class:`~ground.errors.RowError` (``Type_Coercion_Error``) when the value does not fit.
    """
    if value is None:
        return None
    kind = target.kind
    try:
        if kind in INTEGER_KINDS:
            if isinstance(value, bool):
                raise _fail(value, target)
            if isinstance(value, int):
                number = value
            elif isinstance(value, float):
                if not value.is_integer():
                    raise _fail(value, target)
                number = int(value)
            elif isinstance(value, str):
                number = int(value.strip())
            elif isinstance(value, Decimal):
                if value != value.to_integral_value():
                    raise _fail(value, target)
                number = int(value)
            else:
                raise _fail(value, target)
            low, high = INTEGER_RANGES[kind]
            if not low <= number <= high:
                raise _fail(value, target)
            return number
        if kind in APPROX_KINDS:
            if isinstance(value, bool):
                raise _fail(value, target)
            if isinstance(value, int | float | Decimal):
                return float(value)
            if isinstance(value, str):
                return float(value.strip())
            raise _fail(value, target)
        if kind is TypeKind.DECIMAL:
            if isinstance(value, bool):
                raise _fail(value, target)
            if isinstance(value, float | int | str | Decimal):
                number_d = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
                if not number_d.is_finite():
                    raise _fail(value, target)
                if target.scale is not None:
                    number_d = number_d.quantize(
                        Decimal(1).scaleb(-target.scale), rounding=ROUND_HALF_UP
                    )
                if (
                    target.precision is not None
                    and number_d != 0
                    and number_d.adjusted() + 1 + max(-number_d.as_tuple().exponent, 0)  # type: ignore[operator]
                    > target.precision
                ):
                    raise _fail(value, target)
                return number_d
            raise _fail(value, target)
        if kind in STRING_KINDS:
            if isinstance(value, bool):
                text = "TRUE" if value else "FALSE"
            elif isinstance(value, str):
                text = value
            elif isinstance(value, Timestamp | Date | Time | Interval):
                text = value.text()  # before int: these are int subclasses
            elif isinstance(value, int | float | Decimal):
                text = str(value)
            else:
                raise _fail(value, target)
            if target.length is not None and len(text) > target.length:
                raise RowError(
                    COERCION_ERROR,
                    f"value of {len(text)} characters does not fit {target}",
                )
            return text
        if kind is TypeKind.BOOLEAN:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().upper() in ("TRUE", "FALSE"):
                return value.strip().upper() == "TRUE"
            raise _fail(value, target)
        if kind is TypeKind.TIMESTAMP:
            if isinstance(value, bool):
                raise _fail(value, target)
            if isinstance(value, int):
                return Timestamp(value)
            if isinstance(value, float) and value.is_integer():
                return Timestamp(int(value))
            if isinstance(value, str):
                return parse_timestamp(value)
            raise _fail(value, target)
        if kind is TypeKind.DATE:
            if isinstance(value, int) and not isinstance(value, bool):
                return Date(value - value % MS_PER_DAY)
            if isinstance(value, str):
                ts = parse_timestamp(value)
                return Date(ts - ts % MS_PER_DAY)
            raise _fail(value, target)
        if kind is TypeKind.TIME:
            if isinstance(value, int) and not isinstance(value, bool):
                return Time(value % MS_PER_DAY)
            if isinstance(value, str):
                return Time(parse_timestamp("1970-01-01 " + value.strip()))
            raise _fail(value, target)
        if kind in BINARY_KINDS:
            if isinstance(value, bytes):
                return value
            if isinstance(value, str):
                return bytes.fromhex(value)
            raise _fail(value, target)
        if kind is TypeKind.INTERVAL:
            if isinstance(value, int) and not isinstance(value, bool):
                return Interval(value)
            raise _fail(value, target)
    except RowError:
        raise
    except (ValueError, InvalidOperation, OverflowError):
        raise _fail(value, target) from None
    raise _fail(value, target)


def format_value(value: Any) -> Any:
    """A value as it appears in a JSON output row: temporal values as KDA's text forms,
    DECIMAL as a number (float), everything else unchanged."""
    if isinstance(value, Timestamp | Date | Time):
        return value.text()
    if isinstance(value, Interval):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
