"""The operators of a SQL application's pumps: the running form of one pump in one partition.

Each kind of pump is a pair of modules: the operator (``tumbling.py``: window math and
state, no SQL) and its planner beside it (``tumbling_plan.py``: SQL in, a configured
operator out; see :mod:`pipelines.sql.planning`). The planners are reached through
:data:`pipelines.sql.plan.PLANNERS`.
"""

from pipelines.sql.operators.base import (
    LATE_ROW,
    Context,
    KeyedRow,
    Operator,
    RowFailure,
    StatefulOperator,
    StateStore,
    TwoInputOperator,
)
from pipelines.sql.operators.cursor import Cursor, ResultQuery
from pipelines.sql.operators.hotspots import HotspotsOperator
from pipelines.sql.operators.monotonic import MonotonicGroupOperator
from pipelines.sql.operators.project import ProjectOperator, ReferenceJoin
from pipelines.sql.operators.rcf import RandomCutForestOperator
from pipelines.sql.operators.sliding import SlidingOperator, SlidingWindow, WindowAgg
from pipelines.sql.operators.stagger import StaggerOperator
from pipelines.sql.operators.stream_join import StreamJoinOperator
from pipelines.sql.operators.topk import ItemsTumblingOperator
from pipelines.sql.operators.tumbling import AggCall, TumblingLayout, TumblingOperator
from pipelines.sql.operators.two_phase import (
    ItemsFinal,
    ItemsPartial,
    TumblingFinal,
    TumblingPartial,
)

__all__ = [
    "AggCall",
    "Context",
    "Cursor",
    "HotspotsOperator",
    "ItemsFinal",
    "ItemsPartial",
    "ItemsTumblingOperator",
    "KeyedRow",
    "LATE_ROW",
    "MonotonicGroupOperator",
    "Operator",
    "ProjectOperator",
    "RandomCutForestOperator",
    "ReferenceJoin",
    "ResultQuery",
    "RowFailure",
    "SlidingOperator",
    "SlidingWindow",
    "StaggerOperator",
    "StateStore",
    "StatefulOperator",
    "StreamJoinOperator",
    "TumblingFinal",
    "TumblingLayout",
    "TumblingOperator",
    "TumblingPartial",
    "TwoInputOperator",
    "WindowAgg",
]
