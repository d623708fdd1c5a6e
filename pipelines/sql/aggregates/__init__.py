"""Aggregate accumulators for tumbling (GROUP BY) and sliding (OVER) windows.

One mutable class per aggregate, all with ``add(value)``, ``remove(value)`` (sliding windows),
``result()`` and ``state()`` (a JSON-safe snapshot that :data:`AGGREGATES`' ``restore`` turns
back into an equal accumulator). NULL values are ignored by ``add``/``remove`` — except by
FIRST_VALUE/LAST_VALUE, which see every row — and COUNT(*) is fed ``True`` for each row.
Empty SUM/AVG/MIN/MAX/VAR/STDDEV give NULL; empty COUNT gives 0.

Semantics (KDA SQL reference pages in brackets) are in each module's docstring: :mod:`.counts`
(COUNT, COUNT_DISTINCT, SUM_DISTINCT), :mod:`.distinct` (AVG, VAR_*, STDDEV_* of DISTINCT
values), :mod:`.sums` (SUM, AVG), :mod:`.extremes` (MIN, MAX),
:mod:`.positional` (FIRST_VALUE, LAST_VALUE), :mod:`.variance` (VAR_*, STDDEV_*),
:mod:`.boolean` (ANY, EVERY); :mod:`.registry` maps SQL names to them.
"""

from __future__ import annotations

from pipelines.sql.aggregates.base import Accumulator
from pipelines.sql.aggregates.boolean import BoolAny, BoolEvery
from pipelines.sql.aggregates.counts import Count, CountDistinct, SumDistinct
from pipelines.sql.aggregates.distinct import OverDistinct
from pipelines.sql.aggregates.extremes import AddOnlyMax, AddOnlyMin, Max, Min
from pipelines.sql.aggregates.positional import FirstValue, LastValue
from pipelines.sql.aggregates.registry import ADD_ONLY, AGGREGATES, DISTINCT_SUFFIX, AggregateSpec
from pipelines.sql.aggregates.sums import Avg, Sum
from pipelines.sql.aggregates.variance import StddevPop, StddevSamp, VarPop, VarSamp

__all__ = [
    "ADD_ONLY",
    "AGGREGATES",
    "Accumulator",
    "AddOnlyMax",
    "AddOnlyMin",
    "AggregateSpec",
    "Avg",
    "BoolAny",
    "BoolEvery",
    "Count",
    "CountDistinct",
    "DISTINCT_SUFFIX",
    "FirstValue",
    "LastValue",
    "Max",
    "Min",
    "OverDistinct",
    "StddevPop",
    "StddevSamp",
    "Sum",
    "SumDistinct",
    "VarPop",
    "VarSamp",
]
