"""Plan a KDA application: streams, pumps, what each pump computes, in what order.

:func:`plan_application` takes the application code plus the schemas of its inputs and
reference tables, checks everything it can before a record flows (unknown streams and
columns, column counts, window shapes, unsupported constructs — with line and column), and
returns an :class:`ApplicationPlan` whose pumps can build their per-partition operators.

Each ``CREATE PUMP`` goes to the first of :data:`PLANNERS` whose ``matches`` recognises its
query: one planner per kind of pump, each beside its operator in
:mod:`pipelines.sql.operators` (see :class:`~pipelines.sql.planning.PumpPlanner`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from ground.clock import Clock, wall_ms
from ground.errors import SqlError, SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamColumn, StreamInfo, TableInfo
from pipelines.sql.dialect import Statement, is_step, parse_statements
from pipelines.sql.lineage import column_lineage
from pipelines.sql.nodes import datatype_to_sql, identifier_name, node_position
from pipelines.sql.operators.cursor_plan import streams_through_a_function
from pipelines.sql.operators.hotspots_plan import HotspotsPlanner
from pipelines.sql.operators.project_plan import ProjectPlanner
from pipelines.sql.operators.rcf_plan import RandomCutForestPlanner
from pipelines.sql.operators.sliding_plan import SlidingPlanner
from pipelines.sql.operators.stagger_plan import StaggerPlanner
from pipelines.sql.operators.stream_join_plan import StreamJoinPlanner
from pipelines.sql.operators.topk_plan import ItemsTumblingPlanner
from pipelines.sql.operators.tumbling_plan import TumblingPlanner
from pipelines.sql.planning import PlannedPump, PumpPlanner, PumpQuery, plan_error
from pipelines.sql.query_clock import use_query_clock

__all__ = [
    "ApplicationPlan",
    "ERROR_STREAM",
    "PLANNERS",
    "PlannedPump",
    "StreamColumn",
    "StreamInfo",
    "TableInfo",
    "plan_application",
    "plan_pump",
]

ERROR_STREAM = "error_stream"

#: The planners, in the order they are asked: a table function in FROM (the machine-learning
#: ones by name first: the items-tumbling planner takes any other), then a JOIN of two
#: streams, then the window kinds (WINDOWED BY STAGGER, GROUP BY, OVER), and last the
#: stateless pump, which takes every other query.
PLANNERS: tuple[PumpPlanner, ...] = (
    RandomCutForestPlanner(),
    HotspotsPlanner(),
    ItemsTumblingPlanner(),
    StreamJoinPlanner(),
    StaggerPlanner(),
    TumblingPlanner(),
    SlidingPlanner(),
    ProjectPlanner(),
)


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


def plan_application(
    code: str,
    *,
    application: str,
    inputs: Mapping[str, Sequence[StreamColumn]],
    tables: Mapping[str, TableInfo] | None = None,
    allowed_lateness_ms: int = 0,
    planners: Sequence[PumpPlanner] = PLANNERS,
    clock: Clock = wall_ms,
) -> ApplicationPlan:
    """Plan ``code`` over the ``inputs`` streams and reference ``tables``; each pump goes to
    the first of ``planners`` that matches it. The current-time functions read ``clock``
    (see :mod:`pipelines.sql.query_clock`); the query starts now."""
    with use_query_clock(clock):
        return _plan_application(
            code,
            application=application,
            inputs=inputs,
            tables=tables,
            allowed_lateness_ms=allowed_lateness_ms,
            planners=planners,
        )


def _plan_application(
    code: str,
    *,
    application: str,
    inputs: Mapping[str, Sequence[StreamColumn]],
    tables: Mapping[str, TableInfo] | None,
    allowed_lateness_ms: int,
    planners: Sequence[PumpPlanner],
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
                raise plan_error(SqlPlanError, f"{name} is an input stream", schema, statement)
            columns = tuple(_stream_column(c) for c in schema.expressions)
            streams[name] = StreamInfo(name, columns, line=statement.line)
        elif isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "PUMP":
            query = _pump_query(plan, statement, allowed_lateness_ms=allowed_lateness_ms)
            pumps.append(plan_pump(query, planners))
        else:
            raise plan_error(
                SqlUnsupportedError,
                f"statement {type(tree).__name__.upper()} (only CREATE STREAM and CREATE PUMP)",
                None,
                statement,
            )
    plan.pumps = _topological(pumps, streams)
    return plan


def _is_monotonic(node: object) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).upper() == "MONOTONIC"


def _without_monotonic(select: exp.Select, statement: Statement) -> exp.Select:
    """``MONOTONIC(x)`` returns ``x`` and declares it monotonic (sql-reference-monotonic.html)
    so that a streaming GROUP BY may use it. A tumbling window's STEP/FLOOR over time is
    monotonic already: the declaration is dropped. ``GROUP BY MONOTONIC(x)`` over anything
    else (groups that close when ``x`` changes) is refused."""
    group = select.args.get("group")
    for key in group.expressions if group is not None else []:
        if _is_monotonic(key):
            inner = key.expressions[0] if key.expressions else key
            if not (is_step(inner) or (isinstance(inner, exp.Floor) and inner.args.get("to"))):
                raise plan_error(
                    SqlUnsupportedError,
                    f"GROUP BY {key.sql()}: groups that close when a declared-monotonic value "
                    "changes (group by STEP/FLOOR of a time instead)",
                    key,
                    statement,
                )
    if not any(_is_monotonic(n) for n in select.walk()):
        return select

    def strip(node: exp.Expression) -> exp.Expression:
        if _is_monotonic(node) and len(node.expressions) == 1:
            return node.expressions[0]
        return node

    stripped = select.transform(strip)
    assert isinstance(stripped, exp.Select)
    return stripped


def _stream_column(node: exp.Expression) -> StreamColumn:
    """``name type [NOT NULL] [DESCRIPTION '…']`` of CREATE STREAM (the description is
    documentation only)."""
    not_null = any(
        isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
        for c in node.args.get("constraints") or []
    )
    try:
        sql_type = datatype_to_sql(node.args["kind"])
    except SqlError as exc:
        if exc.line:
            raise
        line, column = node_position(node)
        message = exc.construct if isinstance(exc, SqlUnsupportedError) else exc.message
        raise type(exc)(message, line=line, column=column) from None
    return StreamColumn(identifier_name(node.this), sql_type, not_null)


def plan_pump(query: PumpQuery, planners: Sequence[PumpPlanner] = PLANNERS) -> PlannedPump:
    """The pump ``query`` planned by the first of ``planners`` that matches it."""
    for planner in planners:
        if planner.matches(query):
            pump = planner.plan(query)
            pump.lineage = column_lineage(query, pump)
            return pump
    raise query.error(SqlUnsupportedError, "this kind of pump query", query.select)


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


def _pump_query(
    plan: ApplicationPlan, statement: Statement, *, allowed_lateness_ms: int
) -> PumpQuery:
    """``CREATE PUMP … AS INSERT INTO target [(columns)] SELECT STREAM …``: the target and
    the shape of the query checked, as a :class:`PumpQuery` for the planners."""
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
        raise plan_error(
            SqlPlanError,
            f"pump {name} inserts into unknown stream {target_name}",
            target_node,
            statement,
        )
    if target.source:
        raise plan_error(
            SqlPlanError,
            f"pump {name} cannot insert into the input stream {target_name}",
            target_node,
            statement,
        )
    select = insert.expression
    if not isinstance(select, exp.Select):
        raise plan_error(
            SqlUnsupportedError, f"{type(select).__name__} as a pump query", select, statement
        )
    if not select.args.get("stream") and not streams_through_a_function(select):
        raise plan_error(SqlPlanError, "a pump query must be SELECT STREAM", select, statement)
    for unsupported in ("order", "limit", "distinct", "with_", "qualify"):
        if select.args.get(unsupported):
            raise plan_error(
                SqlUnsupportedError,
                f"{unsupported.upper()} in a streaming query",
                select,
                statement,
            )

    select = _without_monotonic(select, statement)
    if target_columns_node is not None:
        wanted = [identifier_name(c) for c in target_columns_node]
        by_name = {c.name: c for c in target.columns}
        missing = [w for w in wanted if w not in by_name]
        if missing:
            raise plan_error(
                SqlPlanError,
                f"{target_name} has no column {missing[0]}",
                target_columns_node[0],
                statement,
            )
        target_cols = [by_name[w] for w in wanted]
        if len(target_cols) != len(target.columns):
            raise plan_error(
                SqlUnsupportedError,
                "INSERT into a subset of the stream's columns",
                target_node,
                statement,
            )
        order = [wanted.index(c.name) for c in target.columns]
    else:
        target_cols = list(target.columns)
        order = list(range(len(target_cols)))
    return PumpQuery(
        application=plan.application,
        streams=plan.streams,
        tables=plan.tables,
        statement=statement,
        name=name,
        target=target,
        target_columns=tuple(target_cols),
        order=tuple(order),
        select=select,
        allowed_lateness_ms=allowed_lateness_ms,
    )
