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

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from ground.clock import Clock, wall_ms
from ground.errors import SqlError, SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamColumn, StreamInfo, TableInfo
from pipelines.sql.compiler import unknown_call, unknown_call_message
from pipelines.sql.compose import Composer
from pipelines.sql.dialect import Statement, parse_statements
from pipelines.sql.lineage import column_lineage
from pipelines.sql.nodes import datatype_to_sql, identifier_name, node_position
from pipelines.sql.operators.hotspots_plan import HotspotsPlanner
from pipelines.sql.operators.monotonic_plan import MonotonicGroupPlanner
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
#: streams, then the window kinds (WINDOWED BY STAGGER, GROUP BY MONOTONIC(x), GROUP BY,
#: OVER), and last the stateless pump, which takes every other query.
PLANNERS: tuple[PumpPlanner, ...] = (
    RandomCutForestPlanner(),
    HotspotsPlanner(),
    ItemsTumblingPlanner(),
    StreamJoinPlanner(),
    StaggerPlanner(),
    MonotonicGroupPlanner(),
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
    #: the pumps of each CREATE PUMP (a later CREATE OR REPLACE PUMP replaces them), and the
    #: statement each was planned from (a pristine copy, to plan it again)
    groups: dict[str, list[PlannedPump]] = {}
    sources: dict[str, Statement] = {}
    #: pumps that read or write a stream replaced after them: planned again at the end, over
    #: the streams as the application leaves them — with the stream and line that replaced it
    rebound: dict[str, tuple[str, int]] = {}

    def plan_pump_group(name: str, statement: Statement) -> None:
        _drop_group(groups.pop(name, []), streams)
        sources[name] = _pristine(statement)
        groups[name] = _plan_pump_statement(
            plan, statement, allowed_lateness_ms=allowed_lateness_ms, planners=planners
        )

    for statement in statements:
        tree = statement.tree
        replace = bool(tree.args.get("replace")) if isinstance(tree, exp.Create) else False
        if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "STREAM":
            schema = tree.this
            name = identifier_name(schema.this)
            if name in streams and streams[name].source:
                raise plan_error(SqlPlanError, f"{name} is an input stream", schema, statement)
            if name in streams and not streams[name].hidden:
                if not replace:
                    raise plan_error(
                        SqlPlanError,
                        f"stream {name} exists (CREATE OR REPLACE STREAM)",
                        schema,
                        statement,
                    )
                # KDA's CREATE STREAM: OR REPLACE re-creates it, "enabling a definition
                # change for an existing object": the pumps that use it are bound to the
                # new definition (planned again once every statement has been read)
                for pump, group in groups.items():
                    if any(name in p.sources or p.target == name for p in group):
                        rebound.setdefault(pump, (name, statement.line))
            columns = tuple(_stream_column(c) for c in schema.expressions)
            for column, node in zip(columns, schema.expressions, strict=True):
                if column.name == "ROWTIME":
                    raise plan_error(
                        SqlPlanError,
                        "ROWTIME is the system column of every stream, not a column to create",
                        node,
                        statement,
                    )
            streams[name] = StreamInfo(name, columns, line=statement.line)
        elif isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "PUMP":
            name = identifier_name(tree.this)
            if name in groups and not replace:
                raise plan_error(
                    SqlPlanError,
                    f"pump {name} exists (CREATE OR REPLACE PUMP)",
                    tree.this,
                    statement,
                )
            rebound.pop(name, None)  # the later definition replaces the one bound anew
            plan_pump_group(name, statement)
        else:
            raise plan_error(
                SqlUnsupportedError,
                f"statement {type(tree).__name__.upper()} (only CREATE STREAM and CREATE PUMP)",
                None,
                statement,
            )
    for name in sorted(rebound, key=lambda pump: sources[pump].line):
        stream, line = rebound[name]
        try:
            plan_pump_group(name, sources[name])
        except SqlUnsupportedError:
            raise
        except SqlError as exc:
            raise type(exc)(
                f"pump {name}, bound to stream {stream} as line {line} re-creates it: "
                f"{exc.message}",
                line=exc.line,
                column=exc.column,
            ) from None
    pumps = [pump for group in groups.values() for pump in group]
    plan.pumps = _topological(pumps, streams)
    return plan


def _pristine(statement: Statement) -> Statement:
    """``statement`` with a copy of its tree (planning may rewrite the tree it reads)."""
    return dataclasses.replace(statement, tree=statement.tree.copy())


def _drop_group(group: Sequence[PlannedPump], streams: dict[str, StreamInfo]) -> None:
    """Forget the hidden streams the pumps of ``group`` (one CREATE PUMP) wrote."""
    for pump in group:
        stream = streams.get(pump.target)
        if stream is not None and stream.hidden:
            del streams[pump.target]


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
    call = unknown_call(query.select)
    if call is not None:  # before a planner reads it as something else (a column, a window)
        raise query.error(SqlPlanError, unknown_call_message(str(call.this).upper()), call)
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


def _promote_rowtime(
    insert: exp.Insert, columns: list[exp.Expression], statement: Statement
) -> list[exp.Expression]:
    """``INSERT INTO s (ROWTIME, a, …) SELECT STREAM ts, x, …``: the item at ROWTIME's place
    becomes the row's ROWTIME, as ``ts AS ROWTIME`` does — the SQLstream engine under KDA sets
    a row's time "by promoting a column from your source to rowtime" (its INSERT page), KDA's
    *ROWTIME* page uses ROWTIME "as a column alias, to override the timestamp on the current
    row". The other columns keep their places."""
    names = [identifier_name(c) for c in columns]
    if "ROWTIME" not in names:
        return columns
    at = names.index("ROWTIME")
    query = insert.expression
    items = query.expressions if isinstance(query, exp.Select) else []
    if (
        names.count("ROWTIME") > 1
        or len(items) != len(columns)
        or any(isinstance(item, exp.Star) for item in items)
    ):
        raise plan_error(
            SqlPlanError,
            "ROWTIME in an INSERT column list needs a SELECT list of the same length, "
            "without *, and ROWTIME once",
            columns[at],
            statement,
        )
    item = items[at]
    value = item.this if isinstance(item, exp.Alias) else item
    promoted = list(items)
    promoted[at] = exp.Alias(this=value, alias=exp.to_identifier("ROWTIME"))
    query.set("expressions", promoted)
    return columns[:at] + columns[at + 1 :]


def _plan_pump_statement(
    plan: ApplicationPlan,
    statement: Statement,
    *,
    allowed_lateness_ms: int,
    planners: Sequence[PumpPlanner],
) -> list[PlannedPump]:
    """``CREATE PUMP … AS INSERT INTO target [(columns)] <query>``: the target checked, the
    query planned as one or more pumps (:mod:`pipelines.sql.compose`)."""
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
    if target is None or target.hidden:
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
    if target_columns_node is not None:
        target_columns_node = _promote_rowtime(insert, target_columns_node, statement)
        wanted = [identifier_name(c) for c in target_columns_node]
        by_name = {c.name: c for c in target.columns}
        for node, column in zip(target_columns_node, wanted, strict=True):
            if column not in by_name:
                raise plan_error(
                    SqlPlanError, f"{target_name} has no column {column}", node, statement
                )
            if wanted.count(column) > 1:
                raise plan_error(SqlPlanError, f"column {column} is listed twice", node, statement)
        target_cols = [by_name[w] for w in wanted]
        # a column the INSERT does not list is NULL
        order = [wanted.index(c.name) if c.name in wanted else -1 for c in target.columns]
    else:
        target_cols = list(target.columns)
        order = list(range(len(target_cols)))
    composer = Composer(
        application=plan.application,
        streams=plan.streams,
        tables=plan.tables,
        statement=statement,
        pump=name,
        allowed_lateness_ms=allowed_lateness_ms,
        planners=planners,
        plan_pump=plan_pump,
    )
    return composer.compose(insert.expression, target, tuple(target_cols), tuple(order))
