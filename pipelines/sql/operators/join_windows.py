"""The windows of a stream-to-stream join (KDA's JOIN clause), as pure functions over the
ROWTIMEs of the rows each side holds, oldest first.

A window on a side says which of its rows the *current row* of the other side meets (KDA:
"The OVER clause defines a window of rows that are to be considered for joining at a given
time."):

- ``RANGE`` (a time): a window ``RANGE x PRECEDING`` on the right meets the right rows at
  most ``x`` ms before the left row's ROWTIME (``r`` in ``[l - x, l]``), ``RANGE x
  FOLLOWING`` those at most ``x`` after it (``[l, l + x]``);
- ``ROWS`` (a count: KDA's JOIN clause defines a row-based window as a given count of rows
  before or after the row with the current timestamp, ``OVER (ROWS 10 PRECEDING)`` holding
  only the latest 10 rows): ``ROWS n PRECEDING`` on
  the right meets the latest ``n`` right rows with a ROWTIME up to the left row's, ``ROWS n
  FOLLOWING`` the first ``n`` from the left row's ROWTIME on. Rows of one ROWTIME count in
  the order they arrived. The count is over the whole stream, whatever their keys: the
  window is not partitioned (KDA), ON chooses among its rows.

A window on the left likewise holds the left rows a right row meets. A pair's result has the
later of the two ROWTIMEs, so it is final once every row up to that time has arrived: the
functions here list the pairs, and the rows of each side no later result needs, for results
in ``[done, horizon)``; each side's ROWTIMEs are sorted.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["JoinWindow", "droppable", "kept_deadline", "window_pairs"]


@dataclass(frozen=True, slots=True)
class JoinWindow:
    """``OVER (…)`` on a side of a join: ``preceding`` and ``following`` the current row of
    the other side, in ms (``RANGE``) or rows (``ROWS``)."""

    rows: bool
    preceding: int
    following: int

    def __post_init__(self) -> None:
        if self.preceding < 0 or self.following < 0:
            raise ValueError("a join window cannot be negative")
        if self.rows and not (self.preceding or self.following):
            raise ValueError("a ROWS join window holds at least one row")

    def text(self) -> str:
        unit = " rows" if self.rows else " ms"
        parts = []
        if self.preceding or not self.following:
            parts.append(f"{self.preceding}{unit} before")
        if self.following:
            parts.append(f"{self.following}{unit} after")
        return ("ROWS: " if self.rows else "RANGE: ") + " and ".join(parts)


def window_pairs(
    window: JoinWindow,
    w_times: Sequence[int],
    c_times: Sequence[int],
    done: int,
    horizon: int,
) -> Iterator[tuple[int, int, int]]:
    """``(result ROWTIME, c index, w index)``: each pair of a current row (side ``c``) and a
    row of its window (side ``w``, the side the window is on) whose result's ROWTIME is in
    ``[done, horizon)``."""
    p, f = window.preceding, window.following
    if window.rows:
        if p:  # the latest p rows up to the current row's time: the result at its time
            for ci in range(bisect_left(c_times, done), bisect_left(c_times, horizon)):
                t = c_times[ci]
                m = bisect_right(w_times, t)
                for wi in range(max(0, m - p), m):
                    yield t, ci, wi
        if f:  # a w row is among the first f from t on when fewer than f come between
            for wi in range(bisect_left(w_times, done), bisect_left(w_times, horizon)):
                t = w_times[wi]
                start = bisect_right(c_times, w_times[wi - f]) if wi >= f else 0
                for ci in range(start, bisect_right(c_times, t)):
                    yield t, ci, wi
        return
    # w rows at or before the current row: the result at the current row's time ...
    for ci in range(bisect_left(c_times, done), bisect_left(c_times, horizon)):
        t = c_times[ci]
        for wi in range(bisect_left(w_times, t - p), bisect_right(w_times, t)):
            yield t, ci, wi
    # ... after it: at the w row's time
    if f:
        for wi in range(bisect_left(w_times, done), bisect_left(w_times, horizon)):
            t = w_times[wi]
            for ci in range(bisect_left(c_times, t - f), bisect_left(c_times, t)):
                yield t, ci, wi


def kept_deadline(
    i: int,
    own_times: Sequence[int],
    other_times: Sequence[int],
    own: JoinWindow | None,
    other: JoinWindow | None,
) -> int | None:
    """When row ``i`` of a side can meet no row of the other side any more: an outer join's
    row without a match comes out then (KDA: "the later bound of the window"). That is the
    latest ROWTIME a result of it can have, or for a ROWS window on its own side the ROWTIME
    of the row that pushes it out. ``own`` is the window on its side, ``other`` the one on
    the other side; None while that is not known (a ROWS window still short of rows)."""
    t = own_times[i]
    latest = t
    if other is not None:  # the row is the current row of the other side's window
        if not other.rows:
            latest = max(latest, t + other.following)
        elif other.following:
            j = bisect_left(other_times, t) + other.following - 1
            if j >= len(other_times):
                return None
            latest = max(latest, other_times[j])
    if own is not None:  # the row is in the window of the other side's current rows
        if not own.rows:
            latest = max(latest, t + own.preceding)
        elif own.preceding:
            # in the window until the p-th row of its side after it pushes it out
            j = i + own.preceding
            if j >= len(own_times):
                return None
            latest = max(latest, own_times[j])
    return latest


def droppable(
    own_times: Sequence[int],
    other_times: Sequence[int],
    own: JoinWindow | None,
    other: JoinWindow | None,
    horizon: int,
) -> int:
    """How many of a side's oldest rows no result from ``horizon`` on needs: not as the
    current row of the other side's window, not in its own side's window, and not to count
    a ROWS window's rows."""
    end = bisect_left(own_times, horizon)
    other_end = bisect_left(other_times, horizon) if other is not None else 0
    for i in range(end):
        t = own_times[i]
        if other is not None:
            if not other.rows:
                if t + other.following >= horizon:
                    return i
            elif other_end - bisect_left(other_times, t) < other.following:
                return i  # its next rows of the other side are not all there yet
        if own is not None:
            if not own.rows:
                if t + own.preceding >= horizon:
                    return i
            elif i + max(own.preceding, own.following) >= end:
                return i  # one of the last rows a ROWS window counts back to
    return end
