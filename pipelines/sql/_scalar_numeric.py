"""Arithmetic, comparison, three-valued logic and numeric functions (private; use
:mod:`pipelines.sql.functions`).

Type rules for the binary operators (NULL in either operand gives NULL):

* ``int ∘ int`` → ``int``; ``/`` truncates toward zero, as SQL integer division does.
* ``Decimal`` with ``int`` or ``Decimal`` → ``Decimal``; ``Decimal`` with ``float`` → ``float``;
  ``float`` with anything numeric → ``float``.
* Division or MOD by zero raises ``Divide_By_Zero`` for every numeric type, floats included
  (KDA writes the row to the error stream rather than returning NULL or infinity).
* Datetime arithmetic: TIMESTAMP ± INTERVAL → TIMESTAMP, TIMESTAMP − TIMESTAMP → INTERVAL,
  INTERVAL ± INTERVAL → INTERVAL, INTERVAL × or ÷ number → INTERVAL, TIME ± INTERVAL → TIME
  (wrapping at midnight), DATE − DATE → INTERVAL. DATE ± INTERVAL → DATE when the interval is a
  whole number of days, otherwise TIMESTAMP (a DATE cannot carry a time of day).
* Year-month intervals (:class:`MonthInterval`, months): ± each other, × or ÷ a number, and
  TIMESTAMP or DATE ± a year-month interval, which moves the calendar month and keeps the
  day, or the month's last day when the new month is shorter (``add_months``). They never mix
  with day-time intervals or TIME.
* BOOLEAN is not a number: ``TRUE + 1`` is a ``Type_Coercion_Error``.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ground.errors import RowError
from pipelines.sql.types import (
    COERCION_ERROR,
    Date,
    Interval,
    MonthInterval,
    Time,
    Timestamp,
    add_months,
)
from pipelines.sql.types.values import MS_PER_DAY

DIVIDE_BY_ZERO = "Divide_By_Zero"
INVALID_ARGUMENT = "Invalid_Argument"

_TEMPORAL = (Timestamp, Date, Time, Interval, MonthInterval)


def _bad(op: str, a: Any, b: Any = None) -> RowError:
    if b is None:
        return RowError(COERCION_ERROR, f"cannot apply {op} to {type(a).__name__}")
    return RowError(
        COERCION_ERROR, f"cannot apply {op} to {type(a).__name__} and {type(b).__name__}"
    )


def _plain_number(a: Any) -> bool:
    """int/float/Decimal that is neither bool nor a temporal int subclass."""
    t = type(a)
    return t is int or t is float or t is Decimal


def _mix(a: Any, b: Any, op: str) -> tuple[Any, Any]:
    """Bring two plain numbers to a common Python type (int, Decimal or float)."""
    ta, tb = type(a), type(b)
    if ta is tb:
        return a, b
    if not (_plain_number(a) and _plain_number(b)):
        raise _bad(op, a, b)
    if ta is float or tb is float:
        return float(a), float(b)
    # one Decimal, one int
    return (a if ta is Decimal else Decimal(a)), (b if tb is Decimal else Decimal(b))


def _date_result(ms: int, interval: int) -> Any:
    return Date(ms) if interval % MS_PER_DAY == 0 else Timestamp(ms)


def _shift_months(moment: Any, months: int, op: str, other: Any) -> Any:
    t = type(moment)
    if t is not Timestamp and t is not Date:
        raise _bad(op, moment, other)
    try:
        return t(add_months(moment, months))
    except ValueError as exc:
        raise RowError(INVALID_ARGUMENT, str(exc)) from None


def _month_arithmetic(a: Any, b: Any, sign: int, op: str) -> Any:
    """``a ± b`` where one side is a year-month interval."""
    ta, tb = type(a), type(b)
    if ta is MonthInterval and tb is MonthInterval:
        return MonthInterval(a + sign * b)
    if tb is MonthInterval:
        return _shift_months(a, sign * b, op, b)
    if sign > 0:  # interval + datetime
        return _shift_months(b, a, op, a)
    raise _bad(op, a, b)


def add(a: Any, b: Any) -> Any:
    """``a + b``."""
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return a + b
    if ta is float and tb is float:
        return a + b
    if ta in _TEMPORAL or tb in _TEMPORAL:
        if ta is MonthInterval or tb is MonthInterval:
            return _month_arithmetic(a, b, 1, "+")
        if tb is Interval and ta is not Interval:
            a, b, ta, tb = b, a, tb, ta  # put the interval first
        if ta is Interval:
            if tb is Interval:
                return Interval(a + b)
            if tb is Timestamp:
                return Timestamp(a + b)
            if tb is Date:
                return _date_result(a + b, a)
            if tb is Time:
                return Time((a + b) % MS_PER_DAY)
        raise _bad("+", a, b)
    if ta is bool or tb is bool:
        raise _bad("+", a, b)
    x, y = _mix(a, b, "+")
    return x + y


def sub(a: Any, b: Any) -> Any:
    """``a - b``."""
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return a - b
    if ta is float and tb is float:
        return a - b
    if ta in _TEMPORAL or tb in _TEMPORAL:
        if ta is MonthInterval or tb is MonthInterval:
            return _month_arithmetic(a, b, -1, "-")
        if tb is Interval:
            if ta is Interval:
                return Interval(a - b)
            if ta is Timestamp:
                return Timestamp(a - b)
            if ta is Date:
                return _date_result(a - b, b)
            if ta is Time:
                return Time((a - b) % MS_PER_DAY)
        elif ta is tb and ta in (Timestamp, Date, Time):
            return Interval(a - b)
        elif {ta, tb} == {Timestamp, Date}:
            return Interval(int(a) - int(b))
        raise _bad("-", a, b)
    if ta is bool or tb is bool:
        raise _bad("-", a, b)
    x, y = _mix(a, b, "-")
    return x - y


def _round_half_away(x: float | Decimal) -> int:
    """Round to the nearest integer, halves away from zero (Decimal and float alike)."""
    if isinstance(x, float):
        if not math.isfinite(x):
            raise RowError(COERCION_ERROR, f"cannot convert {x!r} to an integer")
        x = Decimal(x)
    return int(x.to_integral_value(rounding=ROUND_HALF_UP))


def mul(a: Any, b: Any) -> Any:
    """``a * b``."""
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return a * b
    if ta is float and tb is float:
        return a * b
    if ta is Interval or tb is Interval or ta is MonthInterval or tb is MonthInterval:
        if tb is Interval or tb is MonthInterval:
            a, b, ta, tb = b, a, tb, ta
        if _plain_number(b):
            return ta(a * b if tb is int else _round_half_away(Decimal(int(a)) * Decimal(b)))
        raise _bad("*", a, b)
    if ta is bool or tb is bool or ta in _TEMPORAL or tb in _TEMPORAL:
        raise _bad("*", a, b)
    x, y = _mix(a, b, "*")
    return x * y


def _int_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def div(a: Any, b: Any) -> Any:
    """``a / b``: integer division truncates toward zero; any division by zero is an error."""
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if tb is bool or ta is bool or tb in _TEMPORAL:
        if ta is tb and (ta is Interval or ta is MonthInterval):
            if b == 0:
                raise RowError(DIVIDE_BY_ZERO, "division by a zero interval")
            return _int_div(a, b)
        raise _bad("/", a, b)
    if ta is Interval or ta is MonthInterval:
        if not _plain_number(b):
            raise _bad("/", a, b)
        if b == 0:
            raise RowError(DIVIDE_BY_ZERO, "division of an interval by zero")
        if tb is int:
            return ta(_int_div(a, b))
        return ta(int(Decimal(int(a)) / Decimal(b)))
    if ta in _TEMPORAL:
        raise _bad("/", a, b)
    x, y = _mix(a, b, "/")
    if not y:
        raise RowError(DIVIDE_BY_ZERO, "division by zero")
    if type(x) is int:
        return _int_div(x, y)
    try:
        return x / y
    except InvalidOperation as exc:  # Decimal overflow and the like
        raise RowError(INVALID_ARGUMENT, f"cannot divide {a!r} by {b!r}") from exc


def mod(a: Any, b: Any) -> Any:
    """``MOD(a, b)``: the remainder has the sign of ``a`` (truncated division)."""
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool or ta in _TEMPORAL or tb in _TEMPORAL:
        raise _bad("MOD", a, b)
    x, y = _mix(a, b, "MOD")
    if not y:
        raise RowError(DIVIDE_BY_ZERO, "MOD by zero")
    if type(x) is int:
        r = abs(x) % abs(y)
        return r if x >= 0 else -r
    if type(x) is float:
        return math.fmod(x, y)
    return x % y  # Decimal's % already truncates


def neg(a: Any) -> Any:
    """Unary minus."""
    if a is None:
        return None
    t = type(a)
    if t is int or t is float or t is Decimal:
        return -a
    if t is Interval or t is MonthInterval:
        return t(-a)
    raise _bad("unary -", a)


# ---------------------------------------------------------------- comparison and logic


def _cmp_error(op: str, a: Any, b: Any) -> RowError:
    return _bad(op, a, b)


def _comparable(a: Any, b: Any, op: str) -> None:
    if (type(a) is bool) != (type(b) is bool):
        raise _cmp_error(op, a, b)


def _months_apart(a: Any, b: Any, op: str) -> None:
    """A year-month interval compares only with another: as ``int``s Python would compare a
    month count with milliseconds or a plain number."""
    ta, tb = type(a), type(b)
    if ta is not tb and (ta is MonthInterval or tb is MonthInterval):
        raise _cmp_error(op, a, b)


def eq(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if type(a) is bool or type(b) is bool:
        _comparable(a, b, "=")
    _months_apart(a, b, "=")
    return bool(a == b)


def ne(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if type(a) is bool or type(b) is bool:
        _comparable(a, b, "<>")
    _months_apart(a, b, "<>")
    return bool(a != b)


def lt(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    _months_apart(a, b, "<")
    try:
        return bool(a < b)
    except TypeError:
        raise _cmp_error("<", a, b) from None


def le(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    _months_apart(a, b, "<=")
    try:
        return bool(a <= b)
    except TypeError:
        raise _cmp_error("<=", a, b) from None


def gt(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    _months_apart(a, b, ">")
    try:
        return bool(a > b)
    except TypeError:
        raise _cmp_error(">", a, b) from None


def ge(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    _months_apart(a, b, ">=")
    try:
        return bool(a >= b)
    except TypeError:
        raise _cmp_error(">=", a, b) from None


def and_(a: bool | None, b: bool | None) -> bool | None:
    """SQL AND: FALSE wins over NULL."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def or_(a: bool | None, b: bool | None) -> bool | None:
    """SQL OR: TRUE wins over NULL."""
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def not_(a: bool | None) -> bool | None:
    return None if a is None else not a


def is_null(a: Any) -> bool:
    return a is None


def is_not_null(a: Any) -> bool:
    return a is not None


def between(x: Any, lo: Any, hi: Any) -> bool | None:
    """``x BETWEEN lo AND hi`` ≡ ``x >= lo AND x <= hi`` (three-valued)."""
    return and_(ge(x, lo), le(x, hi))


def in_(x: Any, values: tuple[Any, ...]) -> bool | None:
    """``x IN (values…)``: TRUE on a match; otherwise NULL if ``x`` or any value is NULL."""
    if x is None:
        return None
    saw_null = False
    for v in values:
        if v is None:
            saw_null = True
        elif eq(x, v):
            return True
    return None if saw_null else False


def coalesce(*args: Any) -> Any:
    for a in args:
        if a is not None:
            return a
    return None


def nullif(a: Any, b: Any) -> Any:
    return None if eq(a, b) is True else a


# ---------------------------------------------------------------- numeric functions


def _number(a: Any, name: str) -> None:
    if not _plain_number(a):
        raise _bad(name, a)


def abs_(a: Any) -> Any:
    if a is None:
        return None
    if type(a) is Interval or type(a) is MonthInterval:
        return type(a)(abs(int(a)))
    _number(a, "ABS")
    return abs(a)


def ceil(a: Any) -> Any:
    """CEIL/CEILING of a number; keeps the type (DOUBLE stays DOUBLE)."""
    if a is None:
        return None
    t = type(a)
    if t is int:
        return a
    if t is float:
        return float(math.ceil(a)) if math.isfinite(a) else a
    if t is Decimal:
        return a.to_integral_value(rounding=ROUND_CEILING)
    raise _bad("CEIL", a)


def floor_number(a: Any) -> Any:
    """FLOOR of a number; keeps the type (DOUBLE stays DOUBLE)."""
    if a is None:
        return None
    t = type(a)
    if t is int:
        return a
    if t is float:
        return float(math.floor(a)) if math.isfinite(a) else a
    if t is Decimal:
        return a.to_integral_value(rounding=ROUND_FLOOR)
    raise _bad("FLOOR", a)


def _float_fn(name: str, a: Any) -> float:
    _number(a, name)
    return float(a)


def _domain(name: str, a: Any) -> RowError:
    return RowError(INVALID_ARGUMENT, f"{name} is not defined for {a!r}")


def power(a: Any, b: Any) -> float | None:
    """POWER(a, b) as DOUBLE; a result that is not a real number is ``Invalid_Argument``."""
    if a is None or b is None:
        return None
    x, y = _float_fn("POWER", a), _float_fn("POWER", b)
    if x == 0.0 and y < 0:
        raise RowError(DIVIDE_BY_ZERO, "POWER of zero to a negative exponent")
    try:
        return math.pow(x, y)
    except (ValueError, OverflowError):
        raise _domain("POWER", (a, b)) from None


def sqrt(a: Any) -> float | None:
    if a is None:
        return None
    x = _float_fn("SQRT", a)
    if x < 0:
        raise _domain("SQRT", a)
    return math.sqrt(x)


def ln(a: Any) -> float | None:
    if a is None:
        return None
    x = _float_fn("LN", a)
    if x <= 0:
        raise _domain("LN", a)
    return math.log(x)


def log10(a: Any) -> float | None:
    if a is None:
        return None
    x = _float_fn("LOG10", a)
    if x <= 0:
        raise _domain("LOG10", a)
    return math.log10(x)


def exp(a: Any) -> float | None:
    if a is None:
        return None
    try:
        return math.exp(_float_fn("EXP", a))
    except OverflowError:
        raise _domain("EXP", a) from None


def round_(x: Any, digits: Any = 0) -> Any:
    """ROUND(x, digits): halves away from zero, on the exact value of ``x``; keeps the type."""
    if x is None or digits is None:
        return None
    if type(digits) is not int:
        raise _bad("ROUND", x, digits)
    t = type(x)
    if t is int:
        if digits >= 0:
            return x
        unit = 10**-digits
        q = (abs(x) * 2 + unit) // (2 * unit) * unit
        return q if x >= 0 else -q
    if t is float:
        if not math.isfinite(x) or abs(x) >= 4503599627370496.0:  # 2**52: already whole
            return x
        try:
            d = Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        except InvalidOperation:  # more digits than the context holds: nothing to round
            return x
        return float(d)
    if t is Decimal:
        try:
            return x.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise _domain("ROUND", x) from None
    raise _bad("ROUND", x)
