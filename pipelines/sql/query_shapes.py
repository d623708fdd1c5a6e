"""The shapes of a query the composer (:mod:`pipelines.sql.compose`) reads: which clauses a
SELECT may have, ORDER BY's keys and DISTINCT's monotonic item, table functions and their
cursors, ``expr AS ROWTIME`` items, ``MONOTONIC(…)``.

Pure functions of the parse tree; an error is raised through the ``error`` callback the
composer gives (it knows the statement, for the place).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.dialect import Statement, is_step
from pipelines.sql.nodes import identifier_name, interval_ms, is_star
from pipelines.sql.operators.monotonic_plan import is_monotonic
from pipelines.sql.operators.ordering_plan import rowtime_based
from pipelines.sql.planning import canonical, plan_error

__all__ = [
    "GROUP_BY_PAGE",
    "GROUP_RANK",
    "ITEMS_FUNCTIONS",
    "PLANNED_CLAUSES",
    "NOT_KDA",
    "REFUSED_CLAUSES",
    "SELECT_SYNTAX_PAGE",
    "SET_OPERATORS_PAGE",
    "Refuse",
    "distinct_leading",
    "group_rank_call",
    "is_rowtime_alias",
    "is_star",
    "order_keys",
    "result_rowtime",
    "rowtime_items",
    "table_function",
    "table_node",
    "trivial_cursor",
    "tsort_keys",
    "without_monotonic",
]

#: Makes the error to raise: (kind, message, node).
Refuse = Callable[[type, str, "exp.Expression | None"], Exception]

GROUP_RANK = "GROUP_RANK"
#: Table functions over one column of the cursor's stream.
ITEMS_FUNCTIONS = ("TOP_K_ITEMS_TUMBLING", "COUNT_DISTINCT_ITEMS_TUMBLING")

#: What is said of a construct KDA's dialect does not have (SqlPlanError: KDA refuses it).
NOT_KDA = "KDA for SQL does not support {}"
#: The reference pages that say so.
SET_OPERATORS_PAGE = "UNION ALL is the only set operator on streams: SQL Reference, Query"
SELECT_SYNTAX_PAGE = "not in its SELECT syntax: SQL Reference, SELECT statement"
GROUP_BY_PAGE = (
    "its GROUP BY takes column names or expressions, a number is a constant; positions are "
    "ORDER BY's: SQL Reference, GROUP BY clause"
)

#: The clauses of a SELECT that KDA's SELECT statement does not have, and their names.
REFUSED_CLAUSES = {
    "limit": "LIMIT",
    "offset": "OFFSET",
    "fetch": "FETCH",
    "with_": "WITH",
    "qualify": "QUALIFY",
    "laterals": "LATERAL",
    "sample": "TABLESAMPLE",
    "locks": "FOR UPDATE",
    "cluster": "CLUSTER BY",
    "distribute": "DISTRIBUTE BY",
    "sort": "SORT BY",
    "connect": "CONNECT BY",
    "prewhere": "PREWHERE",
    "settings": "SETTINGS",
    "into": "SELECT … INTO",
    "kind": "SELECT AS STRUCT/VALUE",
    "hint": "query hints",
    "match": "MATCH_RECOGNIZE",
    "options": "query options",
    "operation_modifiers": "query modifiers",
}
PLANNED_CLAUSES = {
    "expressions",
    "from_",
    "joins",
    "where",
    "group",
    "having",
    "windows",
    "stagger",
    "distinct",
    "order",
    "stream",
    "comments",
}


def order_keys(
    select: exp.Select,
    distinct: bool,
    error: Refuse,
    retime: exp.Expression | None = None,
) -> list[exp.Ordered]:
    """ORDER BY's keys as expressions (an alias or ordinal is its SELECT item's); the
    leading one is a monotonic function of ROWTIME, ascending. ORDER BY sorts the result:
    with an item ``retime AS ROWTIME`` an unqualified ROWTIME in a key is the result's, that
    value (:func:`result_rowtime`)."""
    keys, written = _resolved_keys(select, distinct, error, retime)
    lead = keys[0]
    if not rowtime_based(lead.this) or lead.args.get("desc"):
        raise error(
            SqlPlanError,
            "a streaming ORDER BY leads with a time-based monotonic expression, "
            "ascending: ROWTIME, FLOOR(s.ROWTIME TO unit) or STEP(s.ROWTIME BY …) (KDA)",
            select.args["order"].expressions[0],
        )
    for key, direct in zip(keys, written, strict=True):
        if direct:  # an alias or ordinal is its item's value, computed as the item is
            key.set("this", result_rowtime(key.this, retime))
    return keys


def result_rowtime(node: exp.Expression, retime: exp.Expression | None) -> exp.Expression:
    """``node`` of a clause that reads the query's result (ORDER BY) with its unqualified
    ROWTIME as the result's: ``retime``, the value the SELECT list names AS ROWTIME (KDA's
    *ROWTIME*: unqualified, "the timestamp of the row that is just about to be generated";
    as an alias, it overrides "the timestamp on the current row"). A qualified ``s.ROWTIME``
    stays the input's."""
    if retime is None:
        return node

    def swap(n: exp.Expression) -> exp.Expression:
        if (
            isinstance(n, exp.Column)
            and not n.args.get("table")
            and identifier_name(n.this) == "ROWTIME"
        ):
            return retime.copy()
        return n

    return node.copy().transform(swap)


def tsort_keys(
    select: exp.Select, retime: exp.Expression, error: Refuse
) -> tuple[int, list[exp.Ordered]]:
    """KDA's T-sort, ``ORDER BY ts WITHIN interval[, keys]``: the interval in ms and the
    keys after ``ts``. ``ts`` is the item ``retime`` names AS ROWTIME, ascending, without
    the (unqualified) ROWTIME of the result (KDA's restrictions)."""
    order = select.args["order"]
    within = order.args["within"]
    if not isinstance(within, exp.Interval):
        raise error(SqlPlanError, "ORDER BY … WITHIN takes an INTERVAL", within)
    within_ms = int(interval_ms(within))
    if within_ms < 0:
        raise error(SqlPlanError, "ORDER BY … WITHIN a negative interval", within)
    keys, _ = _resolved_keys(select, False, error)
    lead, first = keys[0], order.expressions[0]
    if lead.args.get("desc"):
        raise error(SqlPlanError, "a T-sort sorts ascending (KDA: not DESC)", first)
    if any(
        identifier_name(c.this) == "ROWTIME" and not c.args.get("table")
        for c in lead.this.find_all(exp.Column)
    ):
        raise error(
            SqlPlanError,
            "a T-sort's expression cannot use the result's ROWTIME; qualify it (s.ROWTIME) (KDA)",
            first,
        )
    if canonical(lead.this) != canonical(retime):
        raise error(
            SqlPlanError,
            f"a T-sort's expression must be in the SELECT list AS ROWTIME (KDA): "
            f"{lead.this.sql()} AS ROWTIME",
            first,
        )
    return within_ms, keys[1:]


def _resolved_keys(
    select: exp.Select, distinct: bool, error: Refuse, retime: exp.Expression | None = None
) -> tuple[list[exp.Ordered], list[bool]]:
    """The keys, each an expression; and for each whether ORDER BY wrote it (not an alias or
    ordinal of an item): its unqualified ROWTIME is the result's (:func:`result_rowtime`)."""
    items = select.expressions
    aliases = {
        identifier_name(i.args["alias"]): i.this
        for i in items
        if isinstance(i, exp.Alias) and identifier_name(i.args["alias"]) != "ROWTIME"
    }
    keys: list[exp.Ordered] = []
    written: list[bool] = []
    for ordered in select.args["order"].expressions:
        node = ordered.this
        direct = True
        if isinstance(node, exp.Literal) and node.is_int:
            position = int(node.this)
            if not 1 <= position <= len(items) or is_star(items[position - 1]):
                raise error(SqlPlanError, f"ORDER BY {position}: no such item", node)
            item = items[position - 1]
            if retime is not None and is_rowtime_alias(item):  # the result's ROWTIME
                node = exp.column("ROWTIME")
            else:
                node = item.this if isinstance(item, exp.Alias) else item
                direct = False
        elif (
            isinstance(node, exp.Column)
            and not node.args.get("table")
            and identifier_name(node.this) in aliases
        ):
            node = aliases[identifier_name(node.this)]
            direct = False
        value = canonical(result_rowtime(node, retime) if direct else node)
        if distinct and not any(
            value == canonical(i.this if isinstance(i, exp.Alias) else i) for i in items
        ):
            raise error(
                SqlPlanError, "with DISTINCT, ORDER BY sorts by items of the SELECT list", node
            )
        keys.append(
            exp.Ordered(
                this=node.copy(),
                desc=ordered.args.get("desc"),
                nulls_first=ordered.args.get("nulls_first"),
            )
        )
        written.append(direct)
    return keys, written


def distinct_leading(select: exp.Select, error: Refuse) -> exp.Expression:
    """SELECT DISTINCT's time-based monotonic item (KDA: "as long as there is a non-constant
    monotonic expression in the SELECT clause"). Over a GROUP BY, a stagger window or OVER,
    it is an item of the result: ROWTIME (a window's end or close), a key such as
    ``STEP(s.ROWTIME BY …)``."""
    if table_function(select):
        raise error(SqlUnsupportedError, "DISTINCT over a table function", select.args["from_"])
    for item in select.expressions:
        node = item.this if isinstance(item, exp.Alias) else item
        if rowtime_based(node):
            return node.copy()
    raise error(
        SqlPlanError,
        "SELECT STREAM DISTINCT needs a time-based monotonic item — ROWTIME, FLOOR(s.ROWTIME "
        "TO unit) or STEP(s.ROWTIME BY …) — to know when a value can no longer repeat (KDA)",
        select,
    )


def table_node(name: str) -> exp.Table:
    return exp.Table(this=exp.Identifier(this=name, quoted=True))


def is_rowtime_alias(item: exp.Expression) -> bool:
    return isinstance(item, exp.Alias) and identifier_name(item.args["alias"]) == "ROWTIME"


def rowtime_items(select: exp.Select) -> list[exp.Alias]:
    """The items ``expr AS ROWTIME``: they set the time of the row (KDA), not a column."""
    return [i for i in select.expressions if isinstance(i, exp.Alias) and is_rowtime_alias(i)]


def table_function(select: exp.Select) -> bool:
    from_ = select.args.get("from_")
    return bool(
        from_ is not None
        and isinstance(from_.this, exp.Table)
        and isinstance(from_.this.this, exp.Anonymous)
    )


def group_rank_call(select: exp.Select) -> exp.Anonymous | None:
    if not table_function(select):
        return None
    call = select.args["from_"].this.this
    if str(call.this).upper() == "TABLE" and call.expressions:
        call = call.expressions[0]
    if isinstance(call, exp.Anonymous) and str(call.this).upper() == GROUP_RANK:
        return call
    return None


def trivial_cursor(query: exp.Expression, *, star: bool) -> bool:
    """``SELECT STREAM <items> FROM stream [AS a] [WHERE …]``, ``<items>`` ``*`` if ``star``:
    what a table function reads as is."""
    if not isinstance(query, exp.Select) or not query.args.get("stream"):
        return False
    from_ = query.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table):
        return False
    if isinstance(from_.this.this, exp.Anonymous) or from_.this.args.get("over") is not None:
        return False
    if star and (len(query.expressions) != 1 or not isinstance(query.expressions[0], exp.Star)):
        return False
    if any(i.find(exp.Window) is not None for i in query.expressions):
        return False
    return not any(
        value
        for clause, value in query.args.items()
        if clause not in ("expressions", "from_", "where", "stream", "comments")
    )


def _time_window(node: exp.Expression) -> bool:
    """STEP or FLOOR … TO of a time: a tumbling window (:mod:`.operators.tumbling_plan`)."""
    return is_step(node) or (isinstance(node, exp.Floor) and node.args.get("to") is not None)


def without_monotonic(select: exp.Select, statement: Statement) -> exp.Select:
    """``MONOTONIC(x)`` returns ``x`` and declares it monotonic (sql-reference-monotonic.html)
    so that a streaming GROUP BY may use it. A tumbling window's STEP/FLOOR over time is
    monotonic already, and a GROUP BY with one closes its groups with the window: every
    declaration is dropped. Without one, the first ``GROUP BY MONOTONIC(x)`` stays as the
    key whose groups close when ``x`` moves on (:mod:`.operators.monotonic_plan`); every
    other ``MONOTONIC(…)`` is dropped."""
    if not any(is_monotonic(n) for n in select.walk()):
        return select
    group = select.args.get("group")
    keys = list(group.expressions) if group is not None else []
    windowed = any(
        _time_window(k) or (is_monotonic(k) and k.expressions and _time_window(k.expressions[0]))
        for k in keys
    )
    declared = None if windowed else next((i for i, k in enumerate(keys) if is_monotonic(k)), None)
    kept = keys[declared] if declared is not None else None
    for key in keys:
        if is_monotonic(key) and len(key.expressions) != 1:
            raise plan_error(SqlPlanError, "MONOTONIC takes one argument", key, statement)

    def strip(node: exp.Expression) -> exp.Expression:
        if is_monotonic(node) and len(node.expressions) == 1:
            return node.expressions[0]
        return node

    stripped = select.transform(strip)
    assert isinstance(stripped, exp.Select)
    if kept is not None and declared is not None:
        inner = kept.expressions[0].transform(strip)
        marker = kept.copy()
        marker.set("expressions", [inner])
        stripped.args["group"].expressions[declared].replace(marker)
    return stripped
