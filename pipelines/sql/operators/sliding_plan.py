"""Planner of sliding windows: ``AGG(x) OVER W`` and the window functions ``LAG``,
``NTH_VALUE`` and ``EXP_AVG`` over ``W``, with ``W`` inline or in a WINDOW clause (see
:mod:`.sliding`)."""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.aggregates import AGGREGATES
from pipelines.sql.compiler import aggregate_name, compile_expr
from pipelines.sql.expr import DOUBLE
from pipelines.sql.nodes import identifier_name, interval_ms, node_position
from pipelines.sql.operators.grouping_plan import agg_call, year_month_aggregate
from pipelines.sql.operators.sliding import SlidingOperator, SlidingWindow, WindowAgg
from pipelines.sql.planning import PlannedPump, PumpQuery, canonical, key_columns
from pipelines.sql.scope import Scope, ScopeColumn
from pipelines.sql.sources import resolve_source
from pipelines.sql.types import Interval, is_year_month
from pipelines.sql.window_functions import ExpAvg, Lag, NthValue

__all__ = ["SlidingPlanner"]


class SlidingPlanner:
    def matches(self, query: PumpQuery) -> bool:
        select = query.select
        return any(True for _ in select.find_all(exp.Window)) or bool(select.args.get("windows"))

    def plan(self, query: PumpQuery) -> PlannedPump:
        select = query.select
        source = resolve_source(query)
        where = query.where(source.scope)
        if source.join is not None:
            raise query.error(
                SqlUnsupportedError, "OVER windows over a reference-table join", select
            )
        stream, scope = source.stream, source.scope
        windows = _Windows(query, scope)
        rewritten = [i.transform(windows.rewrite) for i in query.items(stream)]
        sliding = [
            _sliding_window(query, definition, aggs, scope)
            for definition, aggs in zip(windows.definitions, windows.aggs, strict=True)
        ]
        # Results are appended per window in window order: map each placeholder to its slot.
        slot_of: dict[tuple[int, int], int] = {}
        slot = 0
        for w_index, aggs in enumerate(windows.aggs):
            for a_index in range(len(aggs)):
                slot_of[(w_index, a_index)] = slot
                slot += 1
        extended = Scope(list(scope.columns), dict(scope.specials))
        width = stream.width
        for p_index, (w_index, a_index) in enumerate(windows.calls):
            extended.specials[f"__W{p_index}"] = ScopeColumn(
                f"__W{p_index}",
                width + slot_of[(w_index, a_index)],
                windows.aggs[w_index][a_index].sql_type,
            )
        outputs = query.outputs(rewritten, extended)
        details = []
        for window, definition in zip(sliding, windows.definitions, strict=True):
            extent = (
                f"RANGE {window.range_ms} ms"
                if window.range_ms is not None
                else f"ROWS {window.rows}"
            )
            details.append(f"sliding window {extent} PRECEDING over {definition.sql()}")
        details.append("state: rows in each window per key (changelog, chunked per commit)")
        pump = query.name
        partition_keys = [
            set(key_columns(d.args.get("partition_by") or [])) for d in windows.definitions
        ]
        return query.pump(
            "sliding",
            stream.name,
            details,
            lambda: SlidingOperator(pump=pump, windows=sliding, select=outputs, where=where),
            key_columns=tuple(sorted(set.intersection(*partition_keys))) if partition_keys else (),
        )


class _Windows:
    """The distinct window definitions of a query and the calls over each, met while its
    items are rewritten (each ``f(x) OVER w`` becomes a placeholder for its result)."""

    def __init__(self, query: PumpQuery, scope: Scope) -> None:
        self._query = query
        self._scope = scope
        self._named = {identifier_name(w.this): w for w in query.select.args.get("windows") or []}
        self._keys: list[str] = []  # canonical form of each definition
        self.definitions: list[exp.Expression] = []
        self.aggs: list[list[WindowAgg]] = []
        #: per placeholder: (window index, index of the call among the window's)
        self.calls: list[tuple[int, int]] = []
        self._placeholders: dict[str, str] = {}

    def _definition(self, window_node: exp.Window) -> exp.Expression:
        alias = window_node.args.get("alias")
        if (
            alias is not None
            and window_node.args.get("spec") is None
            and not window_node.args.get("partition_by")
        ):
            definition = self._named.get(identifier_name(alias))
            if definition is None:
                raise self._query.error(
                    SqlPlanError, f"unknown window {identifier_name(alias)}", window_node
                )
            return definition
        return window_node

    def rewrite(self, n: exp.Expression) -> exp.Expression:
        if not isinstance(n, exp.Window):
            return n
        definition = self._definition(n)
        text = _window_key(definition)
        if text not in self._keys:
            self._keys.append(text)
            self.aggs.append([])
            self.definitions.append(definition)
        w_index = self._keys.index(text)
        func = n.this
        call_text = f"{w_index}:{canonical(func)}"
        if call_text not in self._placeholders:
            self.aggs[w_index].append(_window_agg(self._query, func, self._scope))
            self._placeholders[call_text] = f"__W{len(self._placeholders)}"
            self.calls.append((w_index, len(self.aggs[w_index]) - 1))
        return exp.Column(this=exp.Identifier(this=self._placeholders[call_text], quoted=True))



#: the SQL Reference's words on sliding windows, for the errors of windows KDA does not have
_WINDOW_SYNTAX = (
    "SQL Reference, WINDOW Clause, sql-reference-window-clause.html: "
    "\"PARTITION BY partition_name RANGE INTERVAL 'interval' {SECOND | MINUTE | HOUR}"
    " PRECEDING | ROWS number PRECEDING\""
)
_OFFSET_WINDOWS = (
    "SQL Reference, Allowed and Disallowed Window Specifications, sql-reference-allowed-"
    "disallowed-window.html: \"Offset windows are windows that do not end with CURRENT ROW."
    " These are not supported\""
)
_INFINITE_WINDOWS = (
    "SQL Reference, Allowed and Disallowed Window Specifications, sql-reference-allowed-"
    "disallowed-window.html: \"You cannot define an infinite window\""
)


def _window_key(definition: exp.Expression) -> str:
    parts = [canonical(p) for p in definition.args.get("partition_by") or []]
    spec = definition.args.get("spec")
    return "|".join(parts) + "#" + (spec.sql() if spec is not None else "")


def _window_agg(query: PumpQuery, func: exp.Expression, scope: Scope) -> WindowAgg:
    ignore_nulls = isinstance(func, exp.IgnoreNulls)
    if isinstance(func, exp.IgnoreNulls | exp.RespectNulls):
        func = func.this
    if isinstance(func, exp.Lag):
        return _lag(query, func, scope, ignore_nulls)
    if isinstance(func, exp.NthValue):
        n = _positive_literal(query, func.args.get("offset"), "NTH_VALUE's n", func)
        from_last = func.args.get("from_first") is False
        value = compile_expr(func.this, scope)
        return WindowAgg(None, value.fn, NthValue(n, from_last, ignore_nulls), value.sql_type)
    if isinstance(func, exp.Anonymous) and str(func.this).upper() == "EXP_AVG":
        return _exp_avg(query, func, scope)
    name = aggregate_name(func)
    if name is None:
        raise query.error(
            SqlPlanError,
            f"KDA for SQL does not support {func.sql()} OVER a window: OVER takes an aggregate "
            "or analytic function (SQL Reference, WINDOW Clause, sql-reference-window-clause"
            '.html: the window "specifies the rows over which analytic functions are '
            'computed"); apply the scalar function to the aggregate instead',
            func,
        )
    if ignore_nulls:
        if name not in ("FIRST_VALUE", "LAST_VALUE"):
            raise query.error(SqlUnsupportedError, f"{name} … IGNORE NULLS", func)
        compiled = compile_expr(func.this, scope)
        spec = AGGREGATES[f"{name}_IGNORE_NULLS"]
        return WindowAgg(spec, compiled.fn, sql_type=spec.returns(compiled.sql_type))
    call = agg_call(query, func, scope)
    if not call.spec.invertible:
        raise query.error(SqlUnsupportedError, f"{call.name} over a sliding window", func)
    return WindowAgg(call.spec, call.arg, sql_type=call.sql_type)


def _positive_literal(
    query: PumpQuery, node: exp.Expression | None, what: str, func: exp.Expression
) -> int:
    if node is None:
        return 1
    if not (isinstance(node, exp.Literal) and node.is_int) or int(node.this) < 1:
        raise query.error(SqlPlanError, f"{what} must be a positive integer literal", func)
    return int(node.this)


def _lag(query: PumpQuery, func: exp.Lag, scope: Scope, ignore_nulls: bool) -> WindowAgg:
    """``LAG(expr [, N [, default]]) [IGNORE NULLS | RESPECT NULLS]`` (sql-reference-lag.html)."""
    offset_node = func.args.get("offset")
    if offset_node is not None and not (
        isinstance(offset_node, exp.Literal) and offset_node.is_int
    ):
        raise query.error(SqlPlanError, "LAG's offset must be an integer literal", func)
    offset = max(1, int(offset_node.this)) if offset_node is not None else 1
    default_node = func.args.get("default")
    default = compile_expr(default_node, scope).fn if default_node is not None else None
    value = compile_expr(func.this, scope)
    return WindowAgg(None, value.fn, Lag(offset, ignore_nulls, default), value.sql_type)


def _exp_avg(query: PumpQuery, func: exp.Anonymous, scope: Scope) -> WindowAgg:
    """``EXP_AVG(expr, INTERVAL …)`` (sql-reference-exp-avg.html): the half-life interval is
    a constant."""
    if len(func.expressions) != 2:
        raise query.error(SqlPlanError, "EXP_AVG takes (expression, <time interval>)", func)
    value, half_life = func.expressions
    interval = compile_expr(half_life, scope)
    if (
        not interval.is_constant
        or type(interval.constant) is not Interval
        or interval.constant <= 0
    ):
        raise query.error(
            SqlPlanError, "EXP_AVG's second argument is a positive constant INTERVAL", func
        )
    arg = compile_expr(value, scope)
    if is_year_month(arg.sql_type):
        raise query.error(SqlPlanError, year_month_aggregate("EXP_AVG"), func)
    return WindowAgg(None, arg.fn, ExpAvg(int(interval.constant)), DOUBLE)


def _sliding_window(
    query: PumpQuery, definition: exp.Expression, aggs: list[WindowAgg], scope: Scope
) -> SlidingWindow:
    spec = definition.args.get("spec")
    partition = [compile_expr(p, scope).fn for p in definition.args.get("partition_by") or []]
    order = definition.args.get("order")
    if order is not None:
        ordered = [
            identifier_name(o.this.this)
            for o in order.expressions
            if isinstance(o.this, exp.Column)
        ]
        if ordered != ["ROWTIME"]:
            raise query.error(
                SqlPlanError,
                f"KDA for SQL does not support a sliding window ordered by {order.sql()}: its"
                f" windows follow ROWTIME ({_WINDOW_SYNTAX}, which has no ORDER BY)",
                order,
            )
    if spec is None:
        raise query.error(
            SqlPlanError,
            "a sliding window needs RANGE … PRECEDING or ROWS … PRECEDING",
            definition,
        )
    if not node_position(spec)[0]:
        spec = spec.copy()  # a frame of keywords only: report it at its window
        spec.meta.update(definition.meta)
    kind = str(spec.args.get("kind")).upper()
    if kind not in ("RANGE", "ROWS"):
        raise query.error(
            SqlPlanError, f"KDA for SQL does not support {kind} windows ({_WINDOW_SYNTAX})", spec
        )
    start = spec.args.get("start")
    start_side = str(spec.args.get("start_side") or "").upper()
    end = spec.args.get("end")
    # KDA aggregates over windows that end with the current row: … PRECEDING, CURRENT ROW,
    # BETWEEN … PRECEDING AND CURRENT ROW (sql-reference-allowed-disallowed-window)
    current = isinstance(start, str) and start.upper() == "CURRENT ROW"
    if (end is not None and not (isinstance(end, str) and end.upper() == "CURRENT ROW")) or (
        not current and start_side != "PRECEDING"
    ):
        raise query.error(
            SqlPlanError,
            f"KDA for SQL does not support the window {spec.sql()}: KDA aggregates over windows"
            f" that end with the current row ({_OFFSET_WINDOWS})",
            spec,
        )
    if isinstance(start, str) and start.upper() == "UNBOUNDED":
        raise query.error(
            SqlPlanError,
            f"KDA for SQL does not support the window {spec.sql()} ({_INFINITE_WINDOWS})",
            spec,
        )
    if kind == "RANGE":
        if current:
            return SlidingWindow(tuple(partition), 0, None, tuple(aggs))
        if isinstance(start, exp.Interval):
            range_ms = int(interval_ms(start))
            if range_ms < 0:
                raise query.error(SqlPlanError, "a window cannot be negative", spec)
            return SlidingWindow(tuple(partition), range_ms, None, tuple(aggs))
        raise query.error(
            SqlPlanError,
            f"KDA for SQL does not support RANGE {start.sql() if start is not None else ''}"
            f" without an INTERVAL ({_WINDOW_SYNTAX})",
            spec,
        )
    if current:
        return SlidingWindow(tuple(partition), None, 0, tuple(aggs))
    count = int(start.this) if isinstance(start, exp.Literal) and start.is_int else None
    if count is None or count < 0:
        raise query.error(SqlPlanError, "ROWS needs a number", spec)
    return SlidingWindow(tuple(partition), None, count, tuple(aggs))
