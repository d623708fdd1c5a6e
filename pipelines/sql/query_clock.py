"""The clock the current-time functions read (sql-reference-date-time-functions.html).

``CURRENT_ROW_TIMESTAMP`` is "a new timestamp for each row": the worker's clock when the row
is processed. ``CURRENT_TIMESTAMP``, ``CURRENT_DATE``, ``CURRENT_TIME``, ``LOCALTIMESTAMP``
and ``LOCALTIME`` "produce results which are set to values at the time the query first
executes": the clock when the application was planned (a worker plans it as it starts). All
are UTC.

:func:`use_query_clock` installs the clock (any :data:`~ground.clock.Clock`, so tests inject a
fixed one) while an application is planned; the compiler reads :func:`current_query_clock`
when it compiles those functions and keeps the clock in the compiled expression. Outside a
``use_query_clock`` block the wall clock is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ground.clock import Clock, wall_ms
from pipelines.sql.expr import Expr, constant
from pipelines.sql.types import Date, Time, Timestamp
from pipelines.sql.types.kinds import DATE, TIME, TIMESTAMP
from pipelines.sql.types.values import MS_PER_DAY

__all__ = [
    "CLOCK_FUNCTIONS",
    "QueryClock",
    "clock_function",
    "current_query_clock",
    "use_query_clock",
]

#: The current-time functions.
CLOCK_FUNCTIONS = frozenset(
    {
        "CURRENT_ROW_TIMESTAMP",
        "CURRENT_TIMESTAMP",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "LOCALTIMESTAMP",
        "LOCALTIME",
    }
)


@dataclass(frozen=True, slots=True)
class QueryClock:
    #: Epoch milliseconds now (read per row).
    now_ms: Clock
    #: Epoch milliseconds when the query first executed.
    start_ms: int


_CURRENT: ContextVar[QueryClock | None] = ContextVar("query_clock", default=None)


@contextmanager
def use_query_clock(clock: Clock = wall_ms) -> Iterator[QueryClock]:
    """Within the block, compiled current-time functions read ``clock``; the query starts
    now (``clock()`` once)."""
    query_clock = QueryClock(clock, clock())
    token = _CURRENT.set(query_clock)
    try:
        yield query_clock
    finally:
        _CURRENT.reset(token)


def current_query_clock() -> QueryClock:
    """The installed clock, or the wall clock starting now."""
    installed = _CURRENT.get()
    return installed if installed is not None else QueryClock(wall_ms, wall_ms())


def clock_function(name: str) -> Expr:
    """The compiled current-time function ``name`` (one of :data:`CLOCK_FUNCTIONS`) on the
    installed clock: CURRENT_ROW_TIMESTAMP reads it per row, the others are the query's start."""
    clock = current_query_clock()
    if name == "CURRENT_ROW_TIMESTAMP":
        now = clock.now_ms
        return Expr(lambda row: Timestamp(now()), TIMESTAMP)
    start = clock.start_ms
    if name in ("CURRENT_TIMESTAMP", "LOCALTIMESTAMP"):
        return constant(Timestamp(start), TIMESTAMP)
    if name in ("CURRENT_TIME", "LOCALTIME"):
        return constant(Time(start % MS_PER_DAY), TIME)
    if name == "CURRENT_DATE":
        return constant(Date(start - start % MS_PER_DAY), DATE)
    raise ValueError(f"not a current-time function: {name}")
