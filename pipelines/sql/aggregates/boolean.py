"""ANY and EVERY.

They take BOOLEANs [sql-reference-any.html, sql-reference-every.html]: ANY is true when some
value is true, EVERY when every value is; NULLs are ignored, and with no non-NULL value both
are NULL, as SQL's SOME/EVERY. They count trues and falses, so rows can leave.
"""

from __future__ import annotations

from typing import Any

from ground.errors import RowError
from pipelines.sql.types import COERCION_ERROR

__all__ = ["BoolAny", "BoolEvery"]


class BoolAny:
    """ANY(b): true if some non-NULL value is true, false if none is, NULL without values."""

    __slots__ = ("true", "false")

    def __init__(self) -> None:
        self.true = 0
        self.false = 0

    def add(self, value: Any) -> None:
        if value is True:
            self.true += 1
        elif value is False:
            self.false += 1
        elif value is not None:
            raise RowError(COERCION_ERROR, f"ANY/EVERY needs a BOOLEAN, got {value!r}")

    def remove(self, value: Any) -> None:
        if value is True:
            self.true -= 1
        elif value is False:
            self.false -= 1

    def result(self) -> bool | None:
        if not self.true and not self.false:
            return None
        return self.true > 0

    def state(self) -> Any:
        return [self.true, self.false]

    @classmethod
    def restore(cls, state: Any) -> Any:
        acc = cls()
        acc.true, acc.false = state
        return acc


class BoolEvery(BoolAny):
    """EVERY(b): true if every non-NULL value is true, NULL without values."""

    __slots__ = ()

    def result(self) -> bool | None:
        if not self.true and not self.false:
            return None
        return self.false == 0
