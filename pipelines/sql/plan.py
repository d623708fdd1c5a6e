"""Plan a KDA application: streams, pumps, what each pump computes, in what order.

:func:`plan_application` takes the application code plus the schemas of its inputs and
reference tables, checks everything it can before a record flows (unknown streams and
columns, column counts, window shapes, unsupported constructs — with line and column), and
returns an :class:`ApplicationPlan` whose pumps can build their per-partition operators.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql import functions as fn
from pipelines.sql.aggregates import AGGREGATES
from pipelines.sql.compiler import (
    AGGREGATE_NODES,
    Expr,
    Scope,
    ScopeColumn,
    compile_expr,
    datatype_to_sql,
    identifier_name,
    interval_ms,
    node_position,
)
from pipelines.sql.dialect import Statement, is_cursor, is_step, parse_statements
from pipelines.sql.operators.base import Operator, Row
from pipelines.sql.operators.project import ProjectOperator, ReferenceJoin
from pipelines.sql.operators.sliding import SlidingOperator, SlidingWindow, WindowAgg
from pipelines.sql.operators.stagger import StaggerOperator
from pipelines.sql.operators.stream_join import StreamJoinOperator
from pipelines.sql.operators.topk import ItemsTumblingOperator
from pipelines.sql.operators.tumbling import AggCall, TumblingLayout, TumblingOperator
from pipelines.sql.types import Interval, SqlType, TypeKind

__all__ = [
    "ApplicationPlan",
    "PlannedPump",
    "StreamColumn",
    "StreamInfo",
    "TableInfo",
    "plan_application",
]

Fn = Callable[[Row], Any]
TIMESTAMP = SqlType(TypeKind.TIMESTAMP)
ERROR_STREAM = "error_stream"
_FLOOR_UNITS = {
    "MILLISECOND": 1,
    "SECOND": 1000,
    "MINUTE": 60_000,
    "HOUR": 3_600_000,
    "DAY": 86_400_000,
}


@dataclass(frozen=True, slots=True)
class StreamColumn:
    name: str
    sql_type: SqlType


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """An in-application stream. Rows are ``(ROWTIME, [APPROXIMATE_ARRIVAL_TIME,] *columns)``."""

    name: str
    columns: tuple[StreamColumn, ...]
    source: bool = False
    line: int = 0

    @property
    def offset(self) -> int:
        return 2 if self.source else 1

    def scope(self, qualifier: str, base: int = 0) -> Scope:
        scope = Scope()
        self.add_to(scope, qualifier, base)
        return scope

    def add_to(self, scope: Scope, qualifier: str, base: int = 0) -> None:
        names = {qualifier, self.name}
        for q in names:
            scope.add("ROWTIME", base, TIMESTAMP, q)
            if self.source:
                scope.add("APPROXIMATE_ARRIVAL_TIME", base + 1, TIMESTAMP, q)
            for i, column in enumerate(self.columns):
                scope.add(column.name, base + self.offset + i, column.sql_type, q)

    @property
    def width(self) -> int:
        return self.offset + len(self.columns)


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A reference table: its columns and (at run time) its rows."""

    name: str
    columns: tuple[StreamColumn, ...]
    rows: tuple[Row, ...] = ()


@dataclass(slots=True)
class PlannedPump:
    name: str
    source: str
    target: str
    kind: str
    details: list[str]
    build: Callable[[], Operator]
    line: int = 0
    #: Stateful pumps: the plain columns among their GROUP BY / PARTITION BY keys (empty:
    #: one group for the whole stream). ``None`` for stateless pumps.
    key_columns: tuple[str, ...] | None = None
    #: A stream-to-stream join's second (windowed) input stream.
    right_source: str | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if self.right_source is None else (self.source, self.right_source)

    def aligned_with(self, partition_key: Sequence[str]) -> bool:
        """True when every group of this pump lives in one input partition: its keys include
        all the columns the input topic is partitioned by."""
        if self.key_columns is None:
            return True
        return bool(partition_key) and set(partition_key) <= set(self.key_columns)


@dataclass(slots=True)
class ApplicationPlan:
    application: str
    streams: dict[str, StreamInfo]
    pumps: list[PlannedPump]
    tables: dict[str, TableInfo] = field(default_factory=dict)

    def readers(self, stream: str) -> list[PlannedPump]:
        return [p for p in self.pumps if stream in p.sources]

    def explain(self) -> str:
        lines = [f"application {self.application}"]
        for stream in self.streams.values():
            kind = "input" if stream.source else "stream"
            cols = ", ".join(f"{c.name} {c.sql_type}" for c in stream.columns)
            lines.append(f"  {kind} {stream.name} ({cols})")
        for table in self.tables.values():
            cols = ", ".join(f"{c.name} {c.sql_type}" for c in table.columns)
            lines.append(f"  reference table {table.name} ({cols})")
        for pump in self.pumps:
            sources = " ⋈ ".join(pump.sources)
            lines.append(f"  pump {pump.name}: {sources} → {pump.target} [{pump.kind}]")
            lines.extend(f"    {d}" for d in pump.details)
        return "\n".join(lines)


def _err(kind: type, message: str, node: exp.Expression | None, statement: Statement) -> Exception:
    line, column = node_position(node)
    if not line:
        line, column = statement.line, statement.column
    return kind(message, line=line, column=column)


def _canonical(node: exp.Expression) -> str:
    """Structural identity of an expression: identifiers normalised, stream qualifiers dropped."""

    def normalise(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column):
            return exp.Column(this=exp.Identifier(this=identifier_name(n.this), quoted=True))
        return n

    return node.transform(normalise).sql()


def plan_application(
    code: str,
    *,
    application: str,
    inputs: Mapping[str, Sequence[StreamColumn]],
    tables: Mapping[str, TableInfo] | None = None,
    allowed_lateness_ms: int = 0,
) -> ApplicationPlan:
    statements = parse_statements(code)
    streams: dict[str, StreamInfo] = {
        name: StreamInfo(name, tuple(columns), source=True) for name, columns in inputs.items()
    }
    plan = ApplicationPlan(application, streams, [], dict(tables or {}))
    pumps: list[PlannedPump] = []
    for statement in statements:
        tree = statement.tree
        if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "STREAM":
            schema = tree.this
            name = identifier_name(schema.this)
            if name in streams and streams[name].source:
                raise _err(SqlPlanError, f"{name} is an input stream", schema, statement)
            columns = tuple(
                StreamColumn(identifier_name(c.this), datatype_to_sql(c.args["kind"]))
                for c in schema.expressions
            )
            streams[name] = StreamInfo(name, columns, line=statement.line)
        elif isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "PUMP":
            pumps.append(_plan_pump(plan, statement, allowed_lateness_ms=allowed_lateness_ms))
        else:
            raise _err(
                SqlUnsupportedError,
                f"statement {type(tree).__name__.upper()} (only CREATE STREAM and CREATE PUMP)",
                None,
                statement,
            )
    plan.pumps = _topological(pumps, streams)
    return plan


def _topological(pumps: list[PlannedPump], streams: Mapping[str, StreamInfo]) -> list[PlannedPump]:
    ordered: list[PlannedPump] = []
    ready = {name for name, s in streams.items() if s.source}
    pending = list(pumps)
    while pending:
        progressed = False
        for pump in list(pending):
            writers_left = [p for p in pending if p.target in pump.sources and p is not pump]
            if not writers_left:
                ordered.append(pump)
                pending.remove(pump)
                if not [p for p in pending if p.target == pump.target]:
                    ready.add(pump.target)
                progressed = True
        if not progressed:
            names = ", ".join(p.name for p in pending)
            raise SqlPlanError(f"pumps form a cycle: {names}", line=pending[0].line)
    return ordered


# -- one pump ---------------------------------------------------------------------------------
def _plan_pump(
    plan: ApplicationPlan, statement: Statement, *, allowed_lateness_ms: int
) -> PlannedPump:
    tree = statement.tree
    name = identifier_name(tree.this)
    insert = tree.args["expression"]
    target_node = insert.this
    target_columns_node: list[exp.Expression] | None = None
    if isinstance(target_node, exp.Schema):
        target_columns_node = list(target_node.expressions)
        target_node = target_node.this
    target_name = identifier_name(target_node)
    target = plan.streams.get(target_name)
    if target is None:
        raise _err(
            SqlPlanError,
            f"pump {name} inserts into unknown stream {target_name}",
            target_node,
            statement,
        )
    if target.source:
        raise _err(
            SqlPlanError,
            f"pump {name} cannot insert into the input stream {target_name}",
            target_node,
            statement,
        )
    select = insert.expression
    if not isinstance(select, exp.Select):
        raise _err(
            SqlUnsupportedError, f"{type(select).__name__} as a pump query", select, statement
        )
    if not select.args.get("stream"):
        raise _err(SqlPlanError, "a pump query must be SELECT STREAM", select, statement)
    for unsupported in ("order", "limit", "distinct", "with_", "qualify"):
        if select.args.get(unsupported):
            raise _err(
                SqlUnsupportedError,
                f"{unsupported.upper()} in a streaming query",
                select,
                statement,
            )

    if target_columns_node is not None:
        wanted = [identifier_name(c) for c in target_columns_node]
        by_name = {c.name: c for c in target.columns}
        missing = [w for w in wanted if w not in by_name]
        if missing:
            raise _err(
                SqlPlanError,
                f"{target_name} has no column {missing[0]}",
                target_columns_node[0],
                statement,
            )
        target_cols = [by_name[w] for w in wanted]
        if len(target_cols) != len(target.columns):
            raise _err(
                SqlUnsupportedError,
                "INSERT into a subset of the stream's columns",
                target_node,
                statement,
            )
        order = [wanted.index(c.name) for c in target.columns]
    else:
        target_cols = list(target.columns)
        order = list(range(len(target_cols)))

    builder = _PumpBuilder(plan, statement, name, target, target_cols, order, allowed_lateness_ms)
    return builder.build(select)


class _PumpBuilder:
    def __init__(
        self,
        plan: ApplicationPlan,
        statement: Statement,
        name: str,
        target: StreamInfo,
        target_cols: list[StreamColumn],
        order: list[int],
        allowed_lateness_ms: int,
    ) -> None:
        self.plan = plan
        self.statement = statement
        self.name = name
        self.target = target
        self.target_cols = target_cols
        self.order = order
        self.lateness = allowed_lateness_ms

    def error(self, kind: type, message: str, node: exp.Expression | None) -> Exception:
        return _err(kind, message, node, self.statement)

    # -- FROM ---------------------------------------------------------------------------------
    def source(
        self, select: exp.Select
    ) -> tuple[StreamInfo, str, Scope, ReferenceJoin | None, exp.Expression]:
        from_ = select.args.get("from_")
        if from_ is None:
            raise self.error(SqlPlanError, "SELECT STREAM needs FROM", select)
        table = from_.this
        if isinstance(table, exp.Table) and isinstance(table.this, exp.Anonymous):
            raise self.error(SqlUnsupportedError, "table function", table)
        if not isinstance(table, exp.Table):
            raise self.error(SqlUnsupportedError, f"FROM {table.sql()} (a subquery)", table)
        stream_name = identifier_name(table.this)
        stream = self.plan.streams.get(stream_name)
        if stream is None:
            raise self.error(SqlPlanError, f"unknown stream {stream_name}", table)
        alias = (
            identifier_name(table.args["alias"].this) if table.args.get("alias") else stream_name
        )
        scope = stream.scope(alias)
        join = None
        joins = select.args.get("joins") or []
        if len(joins) > 1:
            raise self.error(SqlUnsupportedError, "more than one JOIN in a pump", joins[1])
        if joins:
            joined = joins[0].this
            if isinstance(joined, exp.Table) and (
                joined.args.get("over") is not None
                or identifier_name(joined.this) in self.plan.streams
            ):
                raise _StreamJoin(joins[0])
            join = self.reference_join(joins[0], stream, scope, alias)
        return stream, alias, scope, join, table

    def reference_join(
        self, join: exp.Join, stream: StreamInfo, scope: Scope, stream_alias: str
    ) -> ReferenceJoin:
        table_node = join.this
        if not isinstance(table_node, exp.Table):
            raise self.error(SqlUnsupportedError, "JOIN with a subquery", table_node)
        name = identifier_name(table_node.this)
        if table_node.args.get("over") is not None or name in self.plan.streams:
            raise self.error(SqlUnsupportedError, "stream-to-stream JOIN … OVER", table_node)
        table = self.plan.tables.get(name)
        if table is None:
            raise self.error(SqlPlanError, f"unknown stream or reference table {name}", table_node)
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER"):
            raise self.error(
                SqlUnsupportedError, f"{side or kind} JOIN with a reference table", join
            )
        alias = (
            identifier_name(table_node.args["alias"].this) if table_node.args.get("alias") else name
        )
        base = stream.width
        table_scope = Scope()
        for i, column in enumerate(table.columns):
            scope.add(column.name, base + i, column.sql_type, alias)
            scope.add(column.name, base + i, column.sql_type, name) if alias != name else None
            table_scope.add(column.name, i, column.sql_type, alias)
            table_scope.add(column.name, i, column.sql_type, name) if alias != name else None
        stream_only = stream.scope(stream_alias)
        condition = join.args.get("on")
        if condition is None:
            raise self.error(SqlPlanError, "JOIN with a reference table needs ON", join)
        conjuncts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
        stream_keys: list[Fn] = []
        table_keys: list[Fn] = []
        residual: list[Any] = []
        for part in conjuncts:
            if isinstance(part, exp.EQ):
                sides = self._split_eq(part, stream_only, table_scope)
                if sides is not None:
                    stream_keys.append(sides[0].fn)
                    table_keys.append(sides[1].fn)
                    continue
            residual.append(part)
        index: dict[tuple[Any, ...], list[Row]] = {}
        for row in table.rows:
            key = tuple(f(row) for f in table_keys)
            if None not in key:
                index.setdefault(key, []).append(row)
        residual_fn = None
        if residual:
            condition_node: Any = exp.and_(*residual) if len(residual) > 1 else residual[0]
            residual_fn = compile_expr(condition_node, scope).fn
        return ReferenceJoin(
            tuple(stream_keys), index, residual_fn, side == "LEFT", len(table.columns)
        )

    @staticmethod
    def _split_eq(
        part: exp.EQ, stream_scope: Scope, table_scope: Scope
    ) -> tuple[Expr, Expr] | None:
        for left, right in ((part.this, part.expression), (part.expression, part.this)):
            try:
                stream_side = compile_expr(left, stream_scope)
                table_side = compile_expr(right, table_scope)
            except (SqlPlanError, SqlUnsupportedError):
                continue
            return stream_side, table_side
        return None

    # -- SELECT list → target columns ---------------------------------------------------------
    def items(self, select: exp.Select, stream: StreamInfo) -> list[exp.Expression]:
        items: list[exp.Expression] = []
        for item in select.expressions:
            if isinstance(item, exp.Star):
                items.extend(
                    exp.Column(this=exp.Identifier(this=c.name, quoted=True))
                    for c in stream.columns
                )
                continue
            inner = item.this if isinstance(item, exp.Alias) else item
            alias = identifier_name(item.args["alias"]) if isinstance(item, exp.Alias) else ""
            is_rowtime = isinstance(inner, exp.Column) and identifier_name(inner.this) == "ROWTIME"
            target_has_rowtime = any(c.name == "ROWTIME" for c in self.target_cols)
            if is_rowtime and alias in ("", "ROWTIME") and not target_has_rowtime:
                continue  # ROWTIME is the row's time, not a column of the target stream
            items.append(inner)
        if len(items) != len(self.target_cols):
            raise self.error(
                SqlPlanError,
                f"pump {self.name} selects {len(items)} columns but {self.target.name} has "
                f"{len(self.target_cols)}",
                select,
            )
        return [items[i] for i in self.order] if self.order != list(range(len(items))) else items

    def _converter(self, compiled: Expr, column: StreamColumn) -> Fn:
        f = compiled.fn
        target = column.sql_type
        source = compiled.sql_type
        if (
            source is not None
            and _same_family(source, target)
            and not (target.is_string and target.length is not None)
        ):
            return f

        def convert(row: Row) -> Any:
            value = f(row)
            return None if value is None else fn.cast(value, target)

        return convert

    def outputs(self, items: list[exp.Expression], scope: Scope) -> list[Fn]:
        compiled = [compile_expr(node, scope) for node in items]
        columns = [self.target.columns[i] for i in range(len(self.target.columns))]
        return [self._converter(c, col) for c, col in zip(compiled, columns, strict=True)]

    # -- the pump -----------------------------------------------------------------------------
    def build(self, select: exp.Select) -> PlannedPump:
        try:
            return self._build(select)
        except _StreamJoin as found:
            return self.build_stream_join(select, found.join)

    def _build(self, select: exp.Select) -> PlannedPump:
        from_ = select.args.get("from_")
        if (
            from_ is not None
            and isinstance(from_.this, exp.Table)
            and isinstance(from_.this.this, exp.Anonymous)
        ):
            return self.build_items_tumbling(select, from_.this.this)
        stream, alias, scope, join, _ = self.source(select)
        where_node = select.args.get("where")
        where = compile_expr(where_node.this, scope).fn if where_node is not None else None
        has_window_items = any(isinstance(n, exp.Window) for n in select.find_all(exp.Window))
        aggregates = [
            n
            for n in select.expressions
            for n in n.find_all(*AGGREGATE_NODES)
            if not n.find_ancestor(exp.Window)
        ]
        if select.args.get("stagger") is not None:
            return self.build_stagger(select, stream, scope, where, join)
        if select.args.get("group") is not None:
            if join is not None:
                raise self.error(
                    SqlUnsupportedError, "GROUP BY over a reference-table join", select
                )
            return self.build_tumbling(select, stream, scope, where)
        if has_window_items or select.args.get("windows"):
            if join is not None:
                raise self.error(
                    SqlUnsupportedError, "OVER windows over a reference-table join", select
                )
            return self.build_sliding(select, stream, scope, where)
        if aggregates:
            raise self.error(
                SqlPlanError,
                "an aggregate on a stream needs a window: GROUP BY … STEP/FLOOR(ROWTIME …), "
                "OVER (…) or WINDOWED BY STAGGER",
                aggregates[0],
            )
        items = self.items(select, stream)
        outputs = self.outputs(items, scope)
        details = [f"project {len(outputs)} columns" + (" with WHERE" if where else "")]
        if join is not None:
            details.append(
                f"{'LEFT ' if join.outer else ''}JOIN reference table "
                f"({len(join.stream_keys)} key columns, hash lookup)"
            )
        pump_name = self.name
        return PlannedPump(
            self.name,
            stream.name,
            self.target.name,
            "stateless",
            details,
            lambda: ProjectOperator(pump_name, outputs, where, join),
            self.statement.line,
        )

    # -- aggregate queries --------------------------------------------------------------------
    def _aggregate_scope(
        self, select: exp.Select, scope: Scope, keys: list[exp.Expression]
    ) -> tuple[Scope, list[AggCall], Callable[[exp.Expression], exp.Expression]]:
        """Rewrite SELECT/HAVING over the row ``(ROWTIME, *keys, *aggregates)``."""
        key_texts = [_canonical(k) for k in keys]
        aggs: list[AggCall] = []
        agg_texts: list[str] = []

        def rewrite(node: exp.Expression) -> exp.Expression:
            def visit(n: exp.Expression) -> exp.Expression:
                text = _canonical(n) if not isinstance(n, exp.Literal | exp.Star) else None
                if text is not None and text in key_texts:
                    return exp.Column(
                        this=exp.Identifier(this=f"__K{key_texts.index(text)}", quoted=True)
                    )
                if isinstance(n, tuple(AGGREGATE_NODES)):
                    if text not in agg_texts:
                        agg_texts.append(text or "")
                        aggs.append(self._agg_call(n, scope))
                    return exp.Column(
                        this=exp.Identifier(this=f"__A{agg_texts.index(text or '')}", quoted=True)
                    )
                if isinstance(n, exp.Column) and identifier_name(n.this) == "ROWTIME":
                    return exp.Column(this=exp.Identifier(this="__ROWTIME", quoted=True))
                return n

            return node.transform(visit)

        agg_scope = Scope()
        return agg_scope, aggs, rewrite

    def _agg_call(self, node: exp.Expression, scope: Scope) -> AggCall:
        name = AGGREGATE_NODES[type(node)]
        arg = node.this
        if isinstance(node, exp.Count) and isinstance(arg, exp.Distinct):
            name = "COUNT_DISTINCT"
            arg = arg.expressions[0]
        if isinstance(node, exp.Count) and (arg is None or isinstance(arg, exp.Star)):
            return AggCall("COUNT(*)", AGGREGATES["COUNT"], None)
        if isinstance(arg, exp.Distinct):
            raise self.error(SqlUnsupportedError, f"{name}(DISTINCT …)", node)
        spec = AGGREGATES.get(name)
        if spec is None:
            raise self.error(SqlUnsupportedError, f"aggregate {name}", node)
        compiled = compile_expr(arg, scope)
        return AggCall(f"{name}({arg.sql()})", spec, compiled.fn, compiled.column)

    def _finish_agg_scope(self, agg_scope: Scope, keys: list[Expr], aggs: list[AggCall]) -> None:
        agg_scope.specials["__ROWTIME"] = ScopeColumn("__ROWTIME", 0, TIMESTAMP)
        for i, key in enumerate(keys):
            agg_scope.specials[f"__K{i}"] = ScopeColumn(f"__K{i}", 1 + i, key.sql_type)
        for j, agg in enumerate(aggs):
            returns = agg.spec.returns(None)
            agg_scope.specials[f"__A{j}"] = ScopeColumn(f"__A{j}", 1 + len(keys) + j, returns)

    def _check_grouped(self, rewritten: exp.Expression) -> None:
        for column in rewritten.find_all(exp.Column):
            name = identifier_name(column.this)
            if not name.startswith("__"):
                raise self.error(
                    SqlPlanError,
                    f"column {name} must appear in GROUP BY or inside an aggregate",
                    column,
                )

    def _window_of(self, key: exp.Expression, scope: Scope) -> tuple[Fn, int, bool] | None:
        """(time expression, size, event_time?) when ``key`` is STEP/FLOOR over a time."""
        if is_step(key):
            time_node, by = key.expressions
            by_expr = compile_expr(by, scope)
            size = int(by_expr.constant) if by_expr.is_constant else 0
        elif isinstance(key, exp.Floor) and key.args.get("to") is not None:
            time_node = key.this
            unit = str(key.args["to"].name).upper()
            if unit not in _FLOOR_UNITS:
                raise self.error(SqlUnsupportedError, f"FLOOR(… TO {unit}) as a window", key)
            size = _FLOOR_UNITS[unit]
        else:
            return None
        if size <= 0:
            raise self.error(SqlPlanError, "a window needs a positive size", key)
        time = compile_expr(time_node, scope)
        rowtime = isinstance(time_node, exp.Column) and identifier_name(time_node.this) == "ROWTIME"
        return time.fn, size, not rowtime

    def build_tumbling(
        self, select: exp.Select, stream: StreamInfo, scope: Scope, where: Fn | None
    ) -> PlannedPump:
        group_nodes = list(select.args["group"].expressions)
        windows: list[tuple[int, tuple[Fn, int, bool]]] = []
        for i, k in enumerate(group_nodes):
            found = self._window_of(k, scope)
            if found is not None:
                windows.append((i, found))
        if not windows:
            raise self.error(
                SqlPlanError,
                "GROUP BY on a stream needs a window: STEP(ROWTIME BY INTERVAL …) or "
                "FLOOR(ROWTIME TO unit) (or an event-time column)",
                select.args["group"],
            )
        # A ROWTIME window wins over event-time keys (KDA's recommended ROWTIME + event time).
        rowtime_windows = [(i, w) for i, w in windows if not w[2]]
        window_index, (time_fn, size, event_time) = (rowtime_windows or windows)[0]
        keys = [compile_expr(k, scope) for k in group_nodes]
        layout = self._tumbling_layout(group_nodes[window_index], window_index, keys, scope)
        agg_scope, aggs, rewrite = self._aggregate_scope(select, scope, group_nodes)
        items = self.items(select, stream)
        rewritten = [rewrite(i) for i in items]
        having_node = select.args.get("having")
        having_rewritten = rewrite(having_node.this) if having_node is not None else None
        for node in [*rewritten, *([having_rewritten] if having_rewritten is not None else [])]:
            self._check_grouped(node)
        self._finish_agg_scope(agg_scope, keys, aggs)
        outputs = self.outputs(rewritten, agg_scope)
        having = (
            compile_expr(having_rewritten, agg_scope).fn if having_rewritten is not None else None
        )
        pump, app, target = self.name, self.plan.application, self.target.name
        lateness = self.lateness
        key_fns = [k.fn for k in keys]
        details = [
            f"tumbling window {size} ms on {'event time' if event_time else 'ROWTIME'}"
            + (f", allowed lateness {lateness} ms" if event_time else ""),
            f"group by {', '.join(n.sql() for n in group_nodes)}",
            f"aggregates {', '.join(a.name for a in aggs) or '-'}",
            "state: open windows per partition (changelog); one result per window and group, "
            "emitted when the window closes, keyed (application, stream, window start, group)",
        ]
        return PlannedPump(
            self.name,
            stream.name,
            target,
            "tumbling",
            details,
            lambda: TumblingOperator(
                pump=pump,
                application=app,
                stream=target,
                keys=key_fns,
                window_key=window_index,
                time_fn=time_fn,
                size=size,
                event_time=event_time,
                aggs=aggs,
                select=outputs,
                having=having,
                where=where,
                allowed_lateness_ms=lateness,
                layout=layout,
            ),
            self.statement.line,
            _key_columns(group_nodes),
        )

    def _tumbling_layout(
        self, window: exp.Expression, window_index: int, keys: list[Expr], scope: Scope
    ) -> TumblingLayout | None:
        """The tumbling operator's fast path applies when the window is ``STEP(column BY
        INTERVAL …)`` or ``FLOOR(column TO unit)``: its start is then ``t - t % size`` for a
        TIMESTAMP ``t``, as those functions compute it."""
        if is_step(window):
            time_node, by = window.expressions
            by_expr = compile_expr(by, scope)
            if not by_expr.is_constant or type(by_expr.constant) is not Interval:
                return None  # STEP of a TIMESTAMP by an integer is an error per row
        elif isinstance(window, exp.Floor):
            time_node = window.this
        else:
            return None
        time_column = compile_expr(time_node, scope).column
        if time_column is None:
            return None
        return TumblingLayout(
            time_column, tuple(None if i == window_index else k.column for i, k in enumerate(keys))
        )

    def build_stagger(
        self,
        select: exp.Select,
        stream: StreamInfo,
        scope: Scope,
        where: Fn | None,
        join: ReferenceJoin | None,
    ) -> PlannedPump:
        if join is not None:
            raise self.error(
                SqlUnsupportedError, "stagger windows over a reference-table join", select
            )
        keys_tuple, length_node = select.args["stagger"].expressions
        key_nodes = list(keys_tuple.expressions)
        if select.args.get("group") is not None:
            raise self.error(SqlPlanError, "WINDOWED BY STAGGER replaces GROUP BY; use one", select)
        length = compile_expr(length_node, scope)
        if not length.is_constant or not length.constant or int(length.constant) <= 0:
            raise self.error(
                SqlPlanError, "STAGGER needs RANGE INTERVAL with a positive length", length_node
            )
        keys = [compile_expr(k, scope) for k in key_nodes]
        agg_scope, aggs, rewrite = self._aggregate_scope(select, scope, key_nodes)
        items = self.items(select, stream)
        rewritten = [rewrite(i) for i in items]
        for node in rewritten:
            self._check_grouped(node)
        self._finish_agg_scope(agg_scope, keys, aggs)
        outputs = self.outputs(rewritten, agg_scope)
        pump, app, target = self.name, self.plan.application, self.target.name
        range_ms = int(length.constant)
        key_fns = [k.fn for k in keys]
        details = [
            f"stagger window {range_ms} ms on ROWTIME, opened by the first row of each key",
            f"partition by {', '.join(n.sql() for n in key_nodes)}",
            f"aggregates {', '.join(a.name for a in aggs) or '-'}",
            "state: open windows per key (changelog)",
        ]
        return PlannedPump(
            self.name,
            stream.name,
            target,
            "stagger",
            details,
            lambda: StaggerOperator(
                pump=pump,
                application=app,
                stream=target,
                keys=key_fns,
                range_ms=range_ms,
                aggs=aggs,
                select=outputs,
                where=where,
            ),
            self.statement.line,
            _key_columns(key_nodes),
        )

    def build_sliding(
        self, select: exp.Select, stream: StreamInfo, scope: Scope, where: Fn | None
    ) -> PlannedPump:
        named = {identifier_name(w.this): w for w in select.args.get("windows") or []}
        specs: list[tuple[str, exp.Expression]] = []  # (canonical spec, definition)
        calls: list[tuple[int, int]] = []  # per window item: (window index, agg index)
        window_aggs: list[list[WindowAgg]] = []
        window_defs: list[exp.Expression] = []
        placeholders: dict[str, str] = {}

        def spec_of(window_node: exp.Window) -> exp.Expression:
            alias = window_node.args.get("alias")
            if (
                alias is not None
                and window_node.args.get("spec") is None
                and not window_node.args.get("partition_by")
            ):
                definition = named.get(identifier_name(alias))
                if definition is None:
                    raise self.error(
                        SqlPlanError, f"unknown window {identifier_name(alias)}", window_node
                    )
                return definition
            return window_node

        def rewrite(n: exp.Expression) -> exp.Expression:
            if not isinstance(n, exp.Window):
                return n
            definition = spec_of(n)
            text = _window_key(definition)
            if text not in [s for s, _ in specs]:
                specs.append((text, definition))
                window_aggs.append([])
                window_defs.append(definition)
            w_index = [s for s, _ in specs].index(text)
            func = n.this
            call_text = f"{w_index}:{_canonical(func)}"
            if call_text not in placeholders:
                window_aggs[w_index].append(self._window_agg(func, scope))
                placeholders[call_text] = f"__W{len(placeholders)}"
                calls.append((w_index, len(window_aggs[w_index]) - 1))
            return exp.Column(this=exp.Identifier(this=placeholders[call_text], quoted=True))

        items = self.items(select, stream)
        rewritten = [i.transform(rewrite) for i in items]
        windows: list[SlidingWindow] = []
        for definition, aggs in zip(window_defs, window_aggs, strict=True):
            windows.append(self._sliding_window(definition, aggs, scope))
        # Results are appended per window in window order: map each placeholder to its slot.
        slot_of: dict[tuple[int, int], int] = {}
        slot = 0
        for w_index, aggs in enumerate(window_aggs):
            for a_index in range(len(aggs)):
                slot_of[(w_index, a_index)] = slot
                slot += 1
        extended = Scope(list(scope.columns), dict(scope.specials))
        width = stream.width
        for p_index, (w_index, a_index) in enumerate(calls):
            extended.specials[f"__W{p_index}"] = ScopeColumn(
                f"__W{p_index}", width + slot_of[(w_index, a_index)], None
            )
        outputs = self.outputs(rewritten, extended)
        details = []
        for window, definition in zip(windows, window_defs, strict=True):
            extent = (
                f"RANGE {window.range_ms} ms"
                if window.range_ms is not None
                else f"ROWS {window.rows}"
            )
            details.append(f"sliding window {extent} PRECEDING over {definition.sql()}")
        details.append("state: rows in each window per key (changelog, chunked per commit)")
        pump = self.name
        return PlannedPump(
            self.name,
            stream.name,
            self.target.name,
            "sliding",
            details,
            lambda: SlidingOperator(pump=pump, windows=windows, select=outputs, where=where),
            self.statement.line,
            tuple(
                set.intersection(
                    *[set(_key_columns(d.args.get("partition_by") or [])) for d in window_defs]
                )
            )
            if window_defs
            else (),
        )

    def _window_agg(self, func: exp.Expression, scope: Scope) -> WindowAgg:
        if isinstance(func, exp.Lag):
            offset_node = func.args.get("offset")
            if offset_node is not None and not (
                isinstance(offset_node, exp.Literal) and offset_node.is_int
            ):
                raise self.error(SqlPlanError, "LAG's offset must be an integer literal", func)
            offset = int(offset_node.this) if offset_node is not None else 1
            if func.args.get("default") is not None:
                raise self.error(SqlUnsupportedError, "LAG with a default value", func)
            return WindowAgg(None, compile_expr(func.this, scope).fn, max(1, offset))
        if not isinstance(func, tuple(AGGREGATE_NODES)):
            raise self.error(SqlUnsupportedError, f"{func.sql()} OVER a window", func)
        call = self._agg_call(func, scope)
        if not call.spec.invertible:
            raise self.error(SqlUnsupportedError, f"{call.name} over a sliding window", func)
        return WindowAgg(call.spec, call.arg)

    def _sliding_window(
        self, definition: exp.Expression, aggs: list[WindowAgg], scope: Scope
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
                raise self.error(
                    SqlUnsupportedError, "sliding windows ordered by anything but ROWTIME", order
                )
        if spec is None:
            raise self.error(
                SqlPlanError,
                "a sliding window needs RANGE … PRECEDING or ROWS … PRECEDING",
                definition,
            )
        kind = str(spec.args.get("kind")).upper()
        start = spec.args.get("start")
        if str(spec.args.get("start_side") or "").upper() != "PRECEDING" or spec.args.get(
            "end"
        ) not in (None, "CURRENT ROW"):
            if str(spec.args.get("end") or "").upper() not in ("", "CURRENT ROW"):
                raise self.error(SqlUnsupportedError, "window frames other than … PRECEDING", spec)
        if kind == "RANGE":
            if isinstance(start, exp.Interval):
                return SlidingWindow(tuple(partition), int(interval_ms(start)), None, tuple(aggs))
            raise self.error(SqlUnsupportedError, "RANGE without an INTERVAL", spec)
        if kind == "ROWS":
            count = int(start.this) if isinstance(start, exp.Literal) else None
            if count is None:
                raise self.error(SqlPlanError, "ROWS needs a number", spec)
            return SlidingWindow(tuple(partition), None, count, tuple(aggs))
        raise self.error(SqlUnsupportedError, f"{kind} windows", spec)

    # -- stream-to-stream join ----------------------------------------------------------------
    def build_stream_join(self, select: exp.Select, join: exp.Join) -> PlannedPump:
        from_table = select.args["from_"].this
        left_name = identifier_name(from_table.this)
        left = self.plan.streams.get(left_name)
        if left is None:
            raise self.error(SqlPlanError, f"unknown stream {left_name}", from_table)
        if from_table.args.get("over") is not None:
            raise self.error(SqlUnsupportedError, "a window on the left side of a JOIN", from_table)
        right_table = join.this
        right_name = identifier_name(right_table.this)
        right = self.plan.streams.get(right_name)
        if right is None:
            raise self.error(SqlPlanError, f"unknown stream {right_name}", right_table)
        over = right_table.args.get("over")
        if over is None:
            raise self.error(
                SqlPlanError,
                "a stream-to-stream JOIN needs OVER (RANGE INTERVAL … PRECEDING) on the right",
                right_table,
            )
        spec = over.args.get("spec")
        start = spec.args.get("start") if spec is not None else None
        if (
            spec is None
            or str(spec.args.get("kind")).upper() != "RANGE"
            or not isinstance(start, exp.Interval)
        ):
            raise self.error(SqlUnsupportedError, "JOIN windows other than RANGE INTERVAL", over)
        range_ms = int(interval_ms(start))
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER"):
            raise self.error(SqlUnsupportedError, f"{side or kind} stream-to-stream JOIN", join)
        left_alias = (
            identifier_name(from_table.args["alias"].this)
            if from_table.args.get("alias")
            else left_name
        )
        right_alias = (
            identifier_name(right_table.args["alias"].this)
            if right_table.args.get("alias")
            else right_name
        )
        scope = left.scope(left_alias)
        right.add_to(scope, right_alias, base=left.width)
        left_only = left.scope(left_alias)
        right_only = right.scope(right_alias)
        condition = join.args.get("on")
        if condition is None:
            raise self.error(SqlPlanError, "a stream-to-stream JOIN needs ON", join)
        conjuncts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
        left_keys: list[Fn] = []
        right_keys: list[Fn] = []
        residual: list[Any] = []
        for part in conjuncts:
            if isinstance(part, exp.EQ):
                sides = self._split_eq(part, left_only, right_only)
                if sides is not None:
                    left_keys.append(sides[0].fn)
                    right_keys.append(sides[1].fn)
                    continue
            residual.append(part)
        residual_fn = None
        if residual:
            node: Any = exp.and_(*residual) if len(residual) > 1 else residual[0]
            residual_fn = compile_expr(node, scope).fn
        where_node = select.args.get("where")
        where = compile_expr(where_node.this, scope).fn if where_node is not None else None
        items = self.items(select, left)
        outputs = self.outputs(items, scope)
        pump = self.name
        right_width = right.width
        details = [
            f"{'LEFT ' if side == 'LEFT' else ''}JOIN {right_name} OVER RANGE {range_ms} ms "
            f"PRECEDING on {len(left_keys)} key columns; each {left_name} row is matched once "
            "its ROWTIME has passed",
            "state: right rows in range (changelog, chunked per commit), waiting left rows",
        ]
        return PlannedPump(
            self.name,
            left.name,
            self.target.name,
            "stream join",
            details,
            lambda: StreamJoinOperator(
                pump=pump,
                range_ms=range_ms,
                left_keys=left_keys,
                right_keys=right_keys,
                residual=residual_fn,
                outer=side == "LEFT",
                right_width=right_width,
                select=outputs,
                where=where,
            ),
            self.statement.line,
            (),
            right.name,
        )

    # -- TOP_K_ITEMS_TUMBLING / COUNT_DISTINCT_ITEMS_TUMBLING -------------------------------
    def build_items_tumbling(self, select: exp.Select, call: exp.Anonymous) -> PlannedPump:
        outer = str(call.this).upper()
        if outer == "TABLE" and call.expressions and isinstance(call.expressions[0], exp.Anonymous):
            call = call.expressions[0]
        name = str(call.this).upper()
        if name not in ("TOP_K_ITEMS_TUMBLING", "COUNT_DISTINCT_ITEMS_TUMBLING"):
            raise self.error(SqlUnsupportedError, f"table function {name}", call)
        args = list(call.expressions)
        if not args or not is_cursor(args[0]):
            raise self.error(SqlPlanError, f"{name} takes CURSOR(SELECT STREAM …) first", call)
        cursor_select = args[0].expressions[0]
        sub = _PumpBuilder(
            self.plan,
            self.statement,
            self.name,
            self.target,
            self.target_cols,
            self.order,
            self.lateness,
        )
        stream, alias, scope, join, _ = sub.source(cursor_select)
        cursor_where = cursor_select.args.get("where")
        where = compile_expr(cursor_where.this, scope).fn if cursor_where is not None else None
        constants = [compile_expr(a, scope) for a in args[1:]]
        if not all(c.is_constant for c in constants):
            raise self.error(
                SqlPlanError, f"{name}'s arguments after the cursor are constants", call
            )
        values = [c.constant for c in constants]
        if name == "TOP_K_ITEMS_TUMBLING":
            if len(values) != 3:
                raise self.error(
                    SqlPlanError, "TOP_K_ITEMS_TUMBLING(cursor, 'column', k, windowSeconds)", call
                )
            column, k, seconds = values
            if not 1 <= int(k) <= 100_000:
                raise self.error(SqlPlanError, "K must be 1–100000", call)
        else:
            if len(values) != 2:
                raise self.error(
                    SqlPlanError,
                    "COUNT_DISTINCT_ITEMS_TUMBLING(cursor, 'column', windowSeconds)",
                    call,
                )
            column, seconds = values
            k = 0
        if not 1 <= int(seconds) <= 3600:
            raise self.error(SqlPlanError, "windowSeconds must be 1–3600", call)
        item = compile_expr(exp.Column(this=exp.Identifier(this=str(column), quoted=True)), scope)
        from pipelines.sql.sketches import COUNT_DISTINCT_COLUMNS, TOP_K_COLUMNS

        out_names = TOP_K_COLUMNS if name == "TOP_K_ITEMS_TUMBLING" else COUNT_DISTINCT_COLUMNS
        result_scope = Scope()
        result_scope.add("ROWTIME", 0, TIMESTAMP)
        for i, out_name in enumerate(out_names):
            result_scope.add(
                out_name, 1 + i, item.sql_type if i == 0 and k else SqlType(TypeKind.BIGINT)
            )
        pseudo = StreamInfo(
            "__ITEMS", tuple(StreamColumn(n, SqlType(TypeKind.VARCHAR)) for n in out_names)
        )
        items = self.items(select, pseudo)
        outputs = self.outputs(items, result_scope)
        outer_where_node = select.args.get("where")
        outer_where = (
            compile_expr(outer_where_node.this, result_scope).fn
            if outer_where_node is not None
            else None
        )
        pump, app, target = self.name, self.plan.application, self.target.name
        size = int(seconds) * 1000
        details = [
            f"{name}: tumbling {size} ms on ROWTIME over column {column}"
            + (f", K={k}" if k else ""),
            "state: one sketch per open window per partition (changelog)",
        ]
        return PlannedPump(
            self.name,
            stream.name,
            target,
            name.lower(),
            details,
            lambda: ItemsTumblingOperator(
                pump=pump,
                application=app,
                stream=target,
                item=item.fn,
                where=where,
                size=size,
                k=int(k),
                select=outputs,
                having=outer_where,
            ),
            self.statement.line,
            (),
        )


class _StreamJoin(Exception):
    """Raised while resolving FROM when the JOIN is stream-to-stream (planned separately)."""

    def __init__(self, join: exp.Join) -> None:
        super().__init__("stream join")
        self.join = join


def _key_columns(nodes: Sequence[exp.Expression]) -> tuple[str, ...]:
    return tuple(identifier_name(n.this) for n in nodes if isinstance(n, exp.Column))


def _window_key(definition: exp.Expression) -> str:
    parts = [_canonical(p) for p in definition.args.get("partition_by") or []]
    spec = definition.args.get("spec")
    return "|".join(parts) + "#" + (spec.sql() if spec is not None else "")


def _same_family(source: SqlType, target: SqlType) -> bool:
    groups = (
        {TypeKind.REAL, TypeKind.DOUBLE},
        {TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INTEGER, TypeKind.BIGINT},
        {TypeKind.CHAR, TypeKind.VARCHAR},
        {TypeKind.TIMESTAMP},
        {TypeKind.DATE},
        {TypeKind.TIME},
        {TypeKind.BOOLEAN},
        {TypeKind.DECIMAL},
    )
    return any(source.kind in g and target.kind in g for g in groups)
