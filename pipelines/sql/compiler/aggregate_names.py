"""Which calls are aggregates (``COUNT``, ``EVERY`` …) and which functions exist only OVER a
sliding window.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["AGGREGATE_FUNCTIONS", "AGGREGATE_NODES", "WINDOW_ONLY_FUNCTIONS", "aggregate_name"]


#: sqlglot node classes that are aggregates in KDA (plus COUNT DISTINCT through Count).
AGGREGATE_NODES: dict[type, str] = {
    exp.Count: "COUNT",
    exp.Sum: "SUM",
    exp.Avg: "AVG",
    exp.Min: "MIN",
    exp.Max: "MAX",
    exp.FirstValue: "FIRST_VALUE",
    exp.LastValue: "LAST_VALUE",
    exp.StddevPop: "STDDEV_POP",
    exp.StddevSamp: "STDDEV_SAMP",
    exp.Stddev: "STDDEV_SAMP",
    exp.VariancePop: "VAR_POP",
    exp.Variance: "VAR_SAMP",
    exp.Any: "ANY",
}


#: Aggregates sqlglot reads as plain calls (``Anonymous``), by name.
AGGREGATE_FUNCTIONS = frozenset({"EVERY"})


#: Functions that exist only over a sliding window (``EXP_AVG(x, interval) OVER w``).
WINDOW_ONLY_FUNCTIONS = frozenset({"EXP_AVG"})


def aggregate_name(node: exp.Expression) -> str | None:
    """The aggregate a node calls (``COUNT``, ``EVERY`` …), ``None`` when it is not one."""
    name = AGGREGATE_NODES.get(type(node))
    if name is not None:
        return name
    if isinstance(node, exp.Anonymous) and str(node.this).upper() in AGGREGATE_FUNCTIONS:
        return str(node.this).upper()
    return None
