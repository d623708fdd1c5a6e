"""Scalar functions and operators of the KDA SQL dialect, for the expression compiler.

Every function takes already-evaluated Python values (see :mod:`pipelines.sql.types`) and
returns one. NULL in gives NULL out unless SQL says otherwise (``IS NULL``, ``COALESCE``,
three-valued ``AND``/``OR``, ``TIMESTAMP_TO_CHAR``). A row-level failure raises
:class:`~ground.errors.RowError` with a KDA ``ERROR_NAME``: :data:`DIVIDE_BY_ZERO`,
:data:`~pipelines.sql.types.COERCION_ERROR` or :data:`INVALID_ARGUMENT`.

Special-syntax forms are called directly by the compiler: :func:`floor_to` (``FLOOR … TO``),
:func:`ceil_to`, :func:`step` (``STEP … BY``), :func:`extract` (``EXTRACT … FROM``),
:func:`substring` (``SUBSTRING … FROM … FOR``), :func:`substring_regex` (``SUBSTRING … FROM
'regex'``), :func:`substring_similar` (``SUBSTRING … SIMILAR … ESCAPE``), :func:`position`
(``POSITION … IN``),
:func:`trim` (``TRIM … FROM``), :func:`overlay` (``OVERLAY … PLACING``), :func:`cast`, the
operators (:func:`add` … :func:`ge`, :func:`and_`, :func:`like` …). Plain calls
``NAME(args…)`` go through :data:`SCALARS`; the log-parsing functions, whose row type
depends on constant arguments, through :data:`LOG_PARSERS`.

Semantic choices, with the KDA reference page each follows, are in the docstrings of the
functions and of the private modules ``_scalar_numeric`` (operator typing), ``_scalar_cast``,
``_scalar_time``, ``_scalar_format`` and ``_scalar_logparse``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pipelines.sql._scalar_cast import cast, to_text
from pipelines.sql._scalar_format import (
    char_to_date,
    char_to_time,
    char_to_timestamp,
    date_to_char,
    time_to_char,
    timestamp_to_char,
)
from pipelines.sql._scalar_logparse import LOG_PARSERS, LogParser, RowParser
from pipelines.sql._scalar_numeric import (
    DIVIDE_BY_ZERO,
    INVALID_ARGUMENT,
    abs_,
    add,
    and_,
    between,
    ceil,
    coalesce,
    div,
    eq,
    exp,
    floor_number,
    ge,
    gt,
    in_,
    is_not_null,
    is_null,
    le,
    ln,
    log10,
    lt,
    mod,
    mul,
    ne,
    neg,
    not_,
    nullif,
    or_,
    power,
    round_,
    sqrt,
    sub,
)
from pipelines.sql._scalar_text import (
    char_length,
    concat,
    initcap,
    like,
    lower,
    overlay,
    position,
    regex_replace,
    similar_to,
    substring,
    substring_regex,
    substring_similar,
    trim,
    upper,
)
from pipelines.sql._scalar_time import (
    EXTRACT_UNITS,
    FLOOR_UNITS,
    ceil_to,
    extract,
    floor_to,
    step,
    to_timestamp,
    tsdiff,
    unix_timestamp,
)
from pipelines.sql.types import COERCION_ERROR, SqlType, TypeKind
from pipelines.sql.types.kinds import BIGINT, DATE, DOUBLE, TIME, TIMESTAMP, VARCHAR

__all__ = [
    "COERCION_ERROR",
    "DIVIDE_BY_ZERO",
    "EXTRACT_UNITS",
    "FLOOR_UNITS",
    "INVALID_ARGUMENT",
    "LOG_PARSERS",
    "LogParser",
    "RowParser",
    "SCALARS",
    "Scalar",
    "abs",
    "abs_",
    "add",
    "and_",
    "between",
    "cast",
    "ceil",
    "ceil_to",
    "char_length",
    "char_to_date",
    "char_to_time",
    "char_to_timestamp",
    "character_length",
    "coalesce",
    "concat",
    "date_to_char",
    "div",
    "eq",
    "exp",
    "extract",
    "floor_number",
    "floor_to",
    "ge",
    "gt",
    "in_",
    "initcap",
    "is_not_null",
    "is_null",
    "le",
    "like",
    "ln",
    "log10",
    "lower",
    "lt",
    "mod",
    "monotonic",
    "mul",
    "ne",
    "neg",
    "not_",
    "nullif",
    "or_",
    "overlay",
    "position",
    "power",
    "regex_replace",
    "round",
    "round_",
    "similar_to",
    "sqrt",
    "step",
    "sub",
    "substring",
    "substring_regex",
    "substring_similar",
    "time_to_char",
    "timestamp_to_char",
    "to_text",
    "to_timestamp",
    "trim",
    "tsdiff",
    "unix_timestamp",
    "upper",
]

character_length = char_length
#: The brief's names; ``abs_``/``round_`` are the same functions without shadowing builtins.
abs = abs_  # noqa: A001
round = round_  # noqa: A001


def monotonic(value: Any) -> Any:
    """``MONOTONIC(expr)`` (sql-reference-monotonic.html) returns its argument; the planner
    reads it as the declaration that ``expr`` never changes direction."""
    return value


ReturnRule = Callable[[Sequence[SqlType | None]], SqlType | None]


@dataclass(frozen=True)
class Scalar:
    """A function callable as ``NAME(arg, …)``: ``fn(*values)`` evaluates it; ``returns`` gives
    the result type from the argument types (``None`` = unknown)."""

    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None
    returns: ReturnRule


_STRING_MAX = SqlType(TypeKind.VARCHAR, length=65535)


def _fixed(t: SqlType) -> ReturnRule:
    return lambda args: t


def _first(args: Sequence[SqlType | None]) -> SqlType | None:
    return args[0] if args else None


def _first_known(args: Sequence[SqlType | None]) -> SqlType | None:
    return next((a for a in args if a is not None), None)


def _string_like_first(args: Sequence[SqlType | None]) -> SqlType | None:
    first = args[0] if args else None
    if first is not None and first.is_string:
        return SqlType(TypeKind.VARCHAR, length=first.length)
    return VARCHAR


_NUMERIC_ORDER = (
    TypeKind.TINYINT,
    TypeKind.SMALLINT,
    TypeKind.INTEGER,
    TypeKind.BIGINT,
    TypeKind.DECIMAL,
    TypeKind.REAL,
    TypeKind.DOUBLE,
)


def _numeric_common(args: Sequence[SqlType | None]) -> SqlType | None:
    """Result of a binary numeric operation: the wider operand (DOUBLE beats DECIMAL beats the
    integers), as the operators in ``_scalar_numeric`` compute it."""
    known = [a for a in args if a is not None and a.is_numeric]
    if not known:
        return None
    return max(known, key=lambda t: _NUMERIC_ORDER.index(t.kind))


def _same_numeric(args: Sequence[SqlType | None]) -> SqlType | None:
    first = args[0] if args else None
    return first if first is not None and first.is_numeric else None


def _scalar(
    name: str, fn: Callable[..., Any], min_args: int, max_args: int | None, returns: ReturnRule
) -> tuple[str, Scalar]:
    return name, Scalar(name, fn, min_args, max_args, returns)


SCALARS: Mapping[str, Scalar] = MappingProxyType(
    dict(
        [
            _scalar("UPPER", upper, 1, 1, _string_like_first),
            _scalar("LOWER", lower, 1, 1, _string_like_first),
            _scalar("INITCAP", initcap, 1, 1, _string_like_first),
            _scalar("CHAR_LENGTH", char_length, 1, 1, _fixed(BIGINT)),
            _scalar("CHARACTER_LENGTH", char_length, 1, 1, _fixed(BIGINT)),
            _scalar("SUBSTRING", substring, 2, 3, _string_like_first),
            _scalar("POSITION", position, 2, 2, _fixed(BIGINT)),
            _scalar("OVERLAY", overlay, 3, 4, _fixed(VARCHAR)),
            _scalar("REGEX_REPLACE", regex_replace, 3, 5, _fixed(_STRING_MAX)),
            _scalar("ABS", abs_, 1, 1, _first),
            _scalar("CEIL", ceil, 1, 1, _same_numeric),
            _scalar("CEILING", ceil, 1, 1, _same_numeric),
            _scalar("FLOOR", floor_number, 1, 1, _same_numeric),
            _scalar("POWER", power, 2, 2, _fixed(DOUBLE)),
            _scalar("SQRT", sqrt, 1, 1, _fixed(DOUBLE)),
            _scalar("LN", ln, 1, 1, _fixed(DOUBLE)),
            _scalar("LOG10", log10, 1, 1, _fixed(DOUBLE)),
            _scalar("EXP", exp, 1, 1, _fixed(DOUBLE)),
            _scalar("ROUND", round_, 1, 2, _same_numeric),
            _scalar("MOD", mod, 2, 2, _numeric_common),
            _scalar("COALESCE", coalesce, 1, None, _first_known),
            _scalar("NULLIF", nullif, 2, 2, _first),
            _scalar("TSDIFF", tsdiff, 2, 2, _fixed(BIGINT)),
            _scalar("CHAR_TO_TIMESTAMP", char_to_timestamp, 2, 2, _fixed(TIMESTAMP)),
            _scalar("TIMESTAMP_TO_CHAR", timestamp_to_char, 2, 2, _fixed(VARCHAR)),
            _scalar("CHAR_TO_DATE", char_to_date, 2, 2, _fixed(DATE)),
            _scalar("CHAR_TO_TIME", char_to_time, 2, 2, _fixed(TIME)),
            _scalar("DATE_TO_CHAR", date_to_char, 2, 2, _fixed(VARCHAR)),
            _scalar("TIME_TO_CHAR", time_to_char, 2, 2, _fixed(VARCHAR)),
            _scalar("UNIX_TIMESTAMP", unix_timestamp, 1, 1, _fixed(BIGINT)),
            _scalar("TO_TIMESTAMP", to_timestamp, 1, 1, _fixed(TIMESTAMP)),
            _scalar("MONOTONIC", monotonic, 1, 1, _first),
        ]
    )
)
