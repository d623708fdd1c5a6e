"""FIRST_VALUE and LAST_VALUE.

They take rows in arrival order and RESPECT NULLS by default
[sql-reference-first-value.html], so they see every row, NULLs included; ``remove`` drops the
oldest row (FIFO), which is how a sliding window expires rows. The ``*_IGNORE_NULLS`` entries
skip NULLs in the result.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pipelines.sql.state_codec import decode_value, encode_value

__all__ = ["FirstValue", "LastValue"]


class FirstValue:
    """FIRST_VALUE(x): arrival order, RESPECT NULLS unless ``ignore_nulls``; ``remove`` drops the
    oldest row whatever ``value`` it is given (FIFO, as a sliding window expires rows)."""

    __slots__ = ("rows", "ignore_nulls")

    def __init__(self, ignore_nulls: bool = False) -> None:
        self.rows: deque[Any] = deque()
        self.ignore_nulls = ignore_nulls

    def add(self, value: Any) -> None:
        self.rows.append(value)

    def remove(self, value: Any) -> None:
        if self.rows:
            self.rows.popleft()

    def result(self) -> Any:
        if not self.ignore_nulls:
            return self.rows[0] if self.rows else None
        return next((v for v in self.rows if v is not None), None)

    def state(self) -> Any:
        return [self.ignore_nulls, [encode_value(v) for v in self.rows]]

    @classmethod
    def restore(cls, state: Any) -> Any:
        ignore, rows = state
        acc = cls(ignore)
        acc.rows.extend(decode_value(v) for v in rows)
        return acc


class LastValue(FirstValue):
    """LAST_VALUE(x): the newest row still in the window."""

    __slots__ = ()

    def result(self) -> Any:
        if not self.ignore_nulls:
            return self.rows[-1] if self.rows else None
        return next((v for v in reversed(self.rows) if v is not None), None)
