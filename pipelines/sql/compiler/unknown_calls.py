"""Calls of functions KDA's SQL Reference does not have: found before planning, each named at
its place (an unknown name is never reported as a column or a GROUP BY problem)."""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql import functions as fn
from pipelines.sql.compiler.aggregate_names import AGGREGATE_FUNCTIONS, WINDOW_ONLY_FUNCTIONS

__all__ = ["KNOWN_CALLS", "TABLE_FUNCTIONS", "unknown_call", "unknown_call_message"]

#: The names of every call sqlglot reads as ``Anonymous`` that a query may make outside FROM.
KNOWN_CALLS = frozenset(
    {
        "STEP",
        "SUBSTRING_SIMILAR",
        *AGGREGATE_FUNCTIONS,
        *WINDOW_ONLY_FUNCTIONS,
        *fn.SCALARS,
        *fn.LOG_PARSERS,
    }
)
#: The clauses of a SELECT whose calls :func:`unknown_call` looks at (FROM has table
#: functions, which their planners know).
_CALL_CLAUSES = ("expressions", "where", "group", "having", "order", "windows", "stagger")

#: KDA's table functions: called in FROM TABLE(…) only.
TABLE_FUNCTIONS = frozenset(
    {
        "TOP_K_ITEMS_TUMBLING",
        "COUNT_DISTINCT_ITEMS_TUMBLING",
        "RANDOM_CUT_FOREST",
        "RANDOM_CUT_FOREST_WITH_EXPLANATION",
        "HOTSPOTS",
        "GROUP_RANK",
    }
)


def unknown_call_message(name: str) -> str:
    """What is said of a call of ``name`` where a function of a row is expected."""
    if name in TABLE_FUNCTIONS:
        return f"{name} is a table function: FROM TABLE({name}(CURSOR(SELECT STREAM …), …))"
    return f"unknown function {name}"


def unknown_call(select: exp.Select) -> exp.Anonymous | None:
    """The first call in ``select`` (outside FROM, and in its JOINs' ON) of a function KDA's
    SQL Reference does not have; ``None`` when there is none."""
    nodes: list[exp.Expression] = []
    for clause in _CALL_CLAUSES:
        value = select.args.get(clause)
        nodes.extend(value if isinstance(value, list) else [value] if value is not None else [])
    nodes.extend(j.args["on"] for j in select.args.get("joins") or [] if j.args.get("on"))
    for node in nodes:
        if not isinstance(node, exp.Expression):
            continue
        for found in node.find_all(exp.Anonymous):
            if str(found.this).upper() not in KNOWN_CALLS:
                return found
    return None
