"""Groups of a declared-monotonic value: ``GROUP BY MONOTONIC(x), keys`` over an ``x`` that
is not a window of time (sql-reference-monotonic.html).

``MONOTONIC(x)`` asserts that ``x`` never changes direction in the stream: its rows come in
runs of one value, ascending (1000, 1001, 1005) or descending (987, 974, 823). A group —
one value of ``x`` and of the other keys — is complete when ``x`` moves on: the first row
(after WHERE) with another value closes every group of the value before, and their results
are emitted ahead of that row, with its ROWTIME (the time the groups are known complete, as
the ROWTIME of the row that closes an event-time window). The direction is the one of the
first move; a later row whose value moves back against it is a ``Late_Row`` on the error
stream (KDA leaves a broken assertion's results unspecified), a NULL value a
``Null_Monotonic_Value`` row. Nothing else closes a group: a quiet input does not (no time
passing says the value will not come again), so the groups of the last value stay open.

Each result is a :class:`~pipelines.sql.operators.base.KeyedRow` keyed by (application,
stream, value of ``x``, other keys): a value runs once, so the key is written once. The
state — the current value, the direction and each open group's accumulators — is in the
changelog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ground.errors import RowError
from pipelines.sql import state_codec as codec
from pipelines.sql.operators.base import LATE_ROW, Context, KeyedRow, StatefulOperator
from pipelines.sql.operators.tumbling import AggCall, group_result
from pipelines.sql.types import Fn, Row, Timestamp

__all__ = ["NULL_MONOTONIC_VALUE", "MonotonicGroupOperator"]

#: ``ERROR_NAME`` of a row whose declared-monotonic value is NULL (it has no place in the order).
NULL_MONOTONIC_VALUE = "Null_Monotonic_Value"
_ASCENDING, _DESCENDING = 1, -1


class MonotonicGroupOperator(StatefulOperator):
    def __init__(
        self,
        *,
        pump: str,
        application: str,
        stream: str,
        keys: Sequence[Fn],
        monotonic_key: int,
        declared: str,
        aggs: Sequence[AggCall],
        select: Sequence[Fn],
        having: Fn | None,
        where: Fn | None,
    ) -> None:
        super().__init__(pump)
        self._key_prefix = f"{application}/{stream}/"
        self._keys = tuple(keys)
        self._mono = monotonic_key
        #: ``MONOTONIC(x)`` as written, for messages
        self._declared = declared
        self._aggs = tuple(aggs)
        self._select = tuple(select)
        self._having = having
        self._where = where
        #: the value of ``x`` whose groups are open (None: no row yet)
        self._value: Any = None
        #: 1 ascending, -1 descending, 0 not known yet (one value so far)
        self._direction = 0
        #: group key (``x`` included) → accumulators, in the order the groups opened
        self._groups: dict[tuple[Any, ...], list[Any]] = {}

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        for row in rows:
            self._row(row, ctx, out)
        return out

    def _row(self, row: Row, ctx: Context, out: list[Row]) -> None:
        try:
            if self._where is not None and self._where(row) is not True:
                return
            key = tuple([f(row) for f in self._keys])
            values = [None if a.arg is None else a.arg(row) for a in self._aggs]
        except RowError as exc:
            ctx.fail(self.pump, exc.name, exc.message, row)
            return
        value = key[self._mono]
        if value is None:
            ctx.fail(self.pump, NULL_MONOTONIC_VALUE, f"{self._declared} is NULL", row)
            return
        if self._value is not None and value != self._value:
            direction = _ASCENDING if value > self._value else _DESCENDING
            if self._direction and direction != self._direction:
                order = "ascending" if self._direction == _ASCENDING else "descending"
                ctx.fail(
                    self.pump,
                    LATE_ROW,
                    f"{self._declared} = {value!r} after {self._value!r}: the value moves "
                    f"back against its {order} order (its groups were closed)",
                    row,
                )
                return
            self._direction = direction
            self._close(Timestamp(row[0]), ctx, out)
        if value != self._value:
            self._value = value
            self.store.mark(("m",))
        accs = self._groups.get(key)
        if accs is None:
            accs = self._groups[key] = [a.spec.create() for a in self._aggs]
        for acc, value_, agg in zip(accs, values, self._aggs, strict=True):
            if agg.arg is None:
                acc.add(True)
            elif value_ is not None or agg.spec.sees_nulls:
                acc.add(value_)
        self.store.mark(("g", key))

    def _close(self, rowtime: Timestamp, ctx: Context, out: list[Row]) -> None:
        """Emit every open group (all of the current value), with ``rowtime``."""
        for key, accs in self._groups.items():
            self.store.delete(("g", key))
            agg_row = (rowtime, *key, *[acc.result() for acc in accs])
            values = group_result(agg_row, self._having, self._select, ctx, self.pump)
            if values is None:
                continue
            value = key[self._mono]
            group = [v for i, v in enumerate(key) if i != self._mono]
            record_key = (
                self._key_prefix
                + orjson.dumps(codec.tag([value])).decode()
                + "/"
                + orjson.dumps(codec.tag(group)).decode()
            ).encode()
            out.append(KeyedRow((rowtime, *values), record_key))
        self._groups = {}

    # -- state --------------------------------------------------------------------------------
    def snapshot(self, key: Any) -> Any:
        if key[0] == "m":
            return [self._value, self._direction]
        return [acc.state() for acc in self._groups[key[1]]]

    def restore(self, key: Any, value: Any) -> None:
        if key[0] == "m":
            self._value, self._direction = value
            return
        accs = [a.spec.restore(s) for a, s in zip(self._aggs, value, strict=True)]
        self._groups[tuple(key[1])] = accs
