"""What every pump planner shares: the pump being planned, what a planner gives back, and the
protocol the dispatcher (:func:`pipelines.sql.plan.plan_application`) calls.

A :class:`PumpPlanner` plans one kind of pump — each sits beside its operator in
:mod:`pipelines.sql.operators` (``tumbling_plan.py`` beside ``tumbling.py``). The dispatcher
hands every ``CREATE PUMP`` to the first planner whose :meth:`~PumpPlanner.matches` says the
query is its kind; :meth:`~PumpPlanner.plan` then checks it (errors name line and column)
and returns a :class:`PlannedPump`, whose ``build`` makes the operator of one partition.
What no planner takes alone — subqueries, ``UNION ALL``, several joins, ``ORDER BY`` … — was
split before into simpler pumps over hidden streams (:mod:`pipelines.sql.compose`).

:class:`PumpQuery` is the statement being planned with what the planners need from it: the
streams and tables of the application, the target stream and its columns in ``INSERT``
order, and the SELECT list turned into the target's columns (:meth:`PumpQuery.items`,
:meth:`PumpQuery.outputs`). The FROM of a one-stream pump is :mod:`pipelines.sql.sources`'.

A new kind of pump is two modules and one line: its operator (``operators/<kind>.py``, an
:class:`~pipelines.sql.operators.base.Operator`, a ``StatefulOperator`` when its state goes
to the changelog), its planner beside it (``operators/<kind>_plan.py``: ``matches`` by the
query's shape, ``plan`` returning :meth:`PumpQuery.pump`, with what a stateful pump groups
by — ``key_columns``, or better a :class:`Grouping` per input stream — from which the stage
planner (:mod:`pipelines.sql.stages`) decides whether its groups live in one partition or
need a repartition, and a :class:`TwoPhase` when its aggregation can be split around one),
and the planner in ``PLANNERS`` ahead of the kinds whose shape it shares (the stateless
planner matches every query and stays last).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlglot import exp

from ground.errors import RowError, SqlPlanError, SqlUnsupportedError
from pipelines.sql import functions as fn
from pipelines.sql.catalog import StreamColumn, StreamInfo, TableInfo
from pipelines.sql.compiler import Expr, compile_expr
from pipelines.sql.dialect import Statement
from pipelines.sql.nodes import identifier_name, is_star, node_position
from pipelines.sql.operators.base import Operator
from pipelines.sql.scope import Scope
from pipelines.sql.types import COERCION_ERROR, Fn, Row, SqlType, TypeKind

__all__ = [
    "Grouping",
    "LateGate",
    "PlannedPump",
    "PumpPlanner",
    "PumpQuery",
    "TwoPhase",
    "canonical",
    "item_name",
    "key_columns",
    "plan_error",
    "split_join_condition",
    "split_join_keys",
]


@dataclass(frozen=True, slots=True)
class Grouping:
    """What a stateful pump groups one of its input streams by: its GROUP BY, PARTITION BY or
    equi-join keys, compiled (``fns``), and for each the plain column of the stream it is
    (``None``: computed, e.g. ``FLOOR(event_time TO MINUTE)``). ``window`` is the position of
    a tumbling window's time key, left out when rows are repartitioned."""

    columns: tuple[str | None, ...]
    fns: tuple[Fn, ...]
    window: int | None = None

    @property
    def plain(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c is not None)


@dataclass(frozen=True, slots=True)
class TwoPhase:
    """How a windowed aggregation splits around a repartition: ``partial()`` builds the
    operator that aggregates each input partition and emits partial aggregates when its
    windows close, ``final()`` the one that merges them (see
    :mod:`pipelines.sql.operators.two_phase`). ``size_ms`` is the window's size."""

    partial: Callable[[], Operator]
    final: Callable[[], Operator]
    size_ms: int
    event_time: bool


@dataclass(frozen=True, slots=True)
class LateGate:
    """How an event-time window whose rows cross a repartition decides late rows as without
    it: ``gate()`` builds the operator that judges them in each input partition, before the
    repartition, ``window()`` the window behind it, which closes on the stage frontier (see
    :mod:`pipelines.sql.operators.late_gate`)."""

    gate: Callable[[], Operator]
    window: Callable[[], Operator]


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
    #: Stateful pumps: for each input stream (``sources``, in order), what it groups by
    #: (derived from ``key_columns`` when the planner gives none). ``None``: stateless.
    grouping: tuple[Grouping, ...] | None = None
    #: Windowed aggregations that can run in two phases around a repartition.
    two_phase: TwoPhase | None = None
    #: Event-time windows whose rows cross a repartition (not in two phases).
    late_gate: LateGate | None = None
    #: Per input stream: which of its columns each target column is, unchanged (filled in by
    #: the dispatcher; see :mod:`pipelines.sql.lineage`).
    lineage: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if self.right_source is None else (self.source, self.right_source)

    @property
    def stateful(self) -> bool:
        return self.key_columns is not None or self.grouping is not None


def plan_error(
    kind: type, message: str, node: exp.Expression | None, statement: Statement
) -> Exception:
    """A plan error at ``node``, or at the statement when the node knows no position."""
    line, column = node_position(node)
    if not line:
        line, column = statement.line, statement.column
    return kind(message, line=line, column=column)


@dataclass(frozen=True, slots=True)
class PumpQuery:
    """``CREATE PUMP name AS INSERT INTO target [(columns)] SELECT STREAM …``, being planned."""

    application: str
    streams: Mapping[str, StreamInfo]
    tables: Mapping[str, TableInfo]
    statement: Statement
    name: str
    target: StreamInfo
    #: The target's columns the INSERT lists, in its order (all of them without a list).
    target_columns: tuple[StreamColumn, ...]
    #: For each column of the target, the position of its SELECT item; -1: a column the
    #: INSERT does not list, which is NULL.
    order: tuple[int, ...]
    select: exp.Select
    allowed_lateness_ms: int
    #: Items the pump computes after the SELECT list's: columns of a hidden stream the
    #: target is not (ORDER BY keys, the time of ``… AS ROWTIME``; see
    #: :mod:`pipelines.sql.compose`).
    extra_items: tuple[exp.Expression, ...] = ()
    #: The target is a hidden stream being made: each item gives its column a name and a
    #: type (``item_names``, ``inferred``), nothing is converted.
    infer_all: bool = False
    #: The stream the pump writes when it is not ``target`` (a hidden one after it).
    writes: str | None = None
    #: Filled by ``items`` and ``outputs``: the names of the SELECT items, and the types of
    #: the items that have no declared type (all of them with ``infer_all``, else the
    #: extra items).
    item_names: list[str] = field(default_factory=list)
    inferred: list[SqlType | None] = field(default_factory=list)
    #: Filled by ``items``: what it returned (for :mod:`pipelines.sql.lineage`).
    resolved_items: list[exp.Expression] = field(default_factory=list)
    #: Filled by planners whose rows are not the FROM stream's (a stream join): the scope
    #: the items were compiled in and, per input stream, where its row starts in that
    #: scope's rows.
    layout: list[tuple[Scope, tuple[tuple[StreamInfo, int], ...]]] = field(default_factory=list)

    def error(self, kind: type, message: str, node: exp.Expression | None) -> Exception:
        return plan_error(kind, message, node, self.statement)

    def where(self, scope: Scope, select: exp.Select | None = None) -> Fn | None:
        """The compiled WHERE of ``select`` (this pump's query by default), if it has one."""
        node = (select or self.select).args.get("where")
        return compile_expr(node.this, scope).fn if node is not None else None

    def items(
        self,
        stream: StreamInfo,
        alias: str = "",
        joined: Sequence[tuple[str, Sequence[StreamColumn]]] = (),
    ) -> list[exp.Expression]:
        """The SELECT list as one expression per target column, in the target's order.

        ``*`` is every column of every relation of FROM — ``stream`` (known as ``alias``),
        then each ``joined`` (alias, columns) — and ``a.*`` those of the relation ``a``. A
        bare ROWTIME is a value like any other: the time of the row being made."""
        relations: list[tuple[tuple[str, ...], list[StreamColumn]]] = [
            ((alias or stream.name, stream.name), [c for _, c in stream.star_columns])
        ]
        relations.extend(((q,), [c for c in cols if not c.system]) for q, cols in joined)
        items: list[exp.Expression] = []
        names: list[str] = []
        for item in self.select.expressions:
            if is_star(item):
                expanded = self._expand_star(item, relations)
                items.extend(expanded)
                names.extend(identifier_name(c.this) for c in expanded)
                continue
            if isinstance(item, exp.Alias) and identifier_name(item.args["alias"]) == "ROWTIME":
                raise self.error(SqlUnsupportedError, f"{item.sql()} in this query", item)
            items.append(item.this if isinstance(item, exp.Alias) else item)
            names.append(item_name(item, len(names)))
        self.item_names[:] = names
        if self.infer_all:
            self.resolved_items[:] = [*items, *self.extra_items]
            return list(self.resolved_items)
        if len(items) != len(self.target_columns):
            raise self.error(
                SqlPlanError,
                f"pump {self.name} selects {len(items)} columns but "
                + (
                    f"its INSERT lists {len(self.target_columns)}"
                    if len(self.target_columns) != len(self.target.columns)
                    else f"{self.target.name} has {len(self.target_columns)}"
                ),
                self.select,
            )
        if self.order != tuple(range(len(items))):
            items = [items[i] if i >= 0 else exp.Null() for i in self.order]
        self.resolved_items[:] = [*items, *self.extra_items]
        return list(self.resolved_items)

    def _expand_star(
        self,
        item: exp.Expression,
        relations: Sequence[tuple[tuple[str, ...], Sequence[StreamColumn]]],
    ) -> list[exp.Expression]:
        table = item.args.get("table") if isinstance(item, exp.Column) else None
        wanted = identifier_name(table) if table is not None else ""
        out: list[exp.Expression] = []
        joined = len(relations) > 1
        for qualifiers, columns in relations:
            for column in columns:
                known = column.qualifiers or qualifiers
                if wanted and not any(q.upper() == wanted.upper() for q in known):
                    continue
                # qualified where a name could be ambiguous: a join, a hidden join's columns
                qualified = joined or bool(column.qualifiers)
                out.append(
                    exp.Column(
                        this=exp.Identifier(this=column.name, quoted=True),
                        table=exp.Identifier(this=known[0], quoted=True) if qualified else None,
                    )
                )
        if wanted and not out:
            raise self.error(SqlPlanError, f"unknown relation {wanted} in {wanted}.*", item)
        return out

    def outputs(self, items: Sequence[exp.Expression], scope: Scope) -> list[Fn]:
        """``items`` compiled in ``scope``, each converted to its target column's type (the
        items without one give their types to ``inferred``)."""
        compiled = [compile_expr(node, scope) for node in items]
        typed = 0 if self.infer_all else len(self.target.columns)
        for node, expr, column in zip(items, compiled, self.target.columns[:typed], strict=False):
            if expr.sql_type is not None and expr.sql_type.kind is TypeKind.ROW:
                raise self.error(
                    SqlPlanError,
                    f"{node.sql()} is a {expr.sql_type}, not a value for column {column.name}; "
                    "select its fields (… .COLUMN1)",
                    node,
                )
        self.inferred[:] = [c.sql_type for c in compiled[typed:]]
        return [
            _converter(c, self.target.columns[i]) if i < typed else c.fn
            for i, c in enumerate(compiled)
        ]

    def pump(
        self,
        kind: str,
        source: str,
        details: list[str],
        build: Callable[[], Operator],
        *,
        key_columns: tuple[str, ...] | None = None,
        right_source: str | None = None,
        grouping: tuple[Grouping, ...] | None = None,
        two_phase: TwoPhase | None = None,
        late_gate: LateGate | None = None,
    ) -> PlannedPump:
        """The planned form of this pump. A stateful pump gives ``key_columns`` (the plain
        columns it groups by) or, better, its ``grouping`` of each input stream."""
        if grouping is None and key_columns is not None:
            grouping = (self.grouping_of(source, key_columns),)
        if key_columns is None and grouping is not None:
            key_columns = grouping[0].plain
        return PlannedPump(
            self.name,
            source,
            self.writes or self.target.name,
            kind,
            details,
            build,
            self.statement.line,
            key_columns,
            right_source,
            grouping,
            two_phase,
            late_gate,
        )

    def grouping_of(self, stream: str, columns: Sequence[str]) -> Grouping:
        """The grouping of ``stream`` by plain ``columns`` (read straight from the row)."""
        info = self.streams[stream]
        scope = info.scope(info.name)
        fns = tuple(
            compile_expr(exp.Column(this=exp.Identifier(this=c, quoted=True)), scope).fn
            for c in columns
        )
        return Grouping(tuple(columns), fns)


class PumpPlanner(Protocol):
    """Plans one kind of pump."""

    def matches(self, query: PumpQuery) -> bool:
        """Whether ``query`` is this planner's kind (by its shape alone: the dispatcher asks
        the planners in order and the first that matches plans the pump)."""
        ...

    def plan(self, query: PumpQuery) -> PlannedPump:
        """Check ``query`` and plan it; SqlPlanError / SqlUnsupportedError name the place."""
        ...


# -- helpers of several planners ------------------------------------------------------------
def item_name(item: exp.Expression, position: int) -> str:
    """The name of a SELECT item (KDA: its alias, else a column's name, else ``EXPR$n``)."""
    if isinstance(item, exp.Alias):
        return identifier_name(item.args["alias"])
    if isinstance(item, exp.Column) and not isinstance(item.this, exp.Star):
        return identifier_name(item.this)
    return f"EXPR${position}"


def canonical(node: exp.Expression) -> str:
    """Structural identity of an expression: identifiers normalised, stream qualifiers dropped."""

    def normalise(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column):
            return exp.Column(this=exp.Identifier(this=identifier_name(n.this), quoted=True))
        return n

    return node.transform(normalise).sql()


def key_columns(nodes: Sequence[exp.Expression]) -> tuple[str, ...]:
    """The plain columns among GROUP BY / PARTITION BY keys."""
    return tuple(identifier_name(n.this) for n in nodes if isinstance(n, exp.Column))


def split_join_condition(
    condition: exp.Expression, left: Scope, right: Scope
) -> tuple[list[Fn], list[Fn], exp.Expression | None]:
    """A JOIN's ON as equi-join keys — the ``=`` conjuncts with one side in each scope, as
    (left keys, right keys) — and the rest (``None`` when nothing is left)."""
    left_keys, right_keys, rest = split_join_keys(condition, left, right)
    return [k.fn for k in left_keys], [k.fn for k in right_keys], rest


def split_join_keys(
    condition: exp.Expression, left: Scope, right: Scope
) -> tuple[list[Expr], list[Expr], exp.Expression | None]:
    """:func:`split_join_condition` with the keys compiled (their ``column`` says which are
    plain columns)."""
    conjuncts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    left_keys: list[Expr] = []
    right_keys: list[Expr] = []
    residual: list[Any] = []
    for part in conjuncts:
        if isinstance(part, exp.EQ):
            sides = _split_eq(part, left, right)
            if sides is not None:
                left_keys.append(sides[0])
                right_keys.append(sides[1])
                continue
        residual.append(part)
    if not residual:
        return left_keys, right_keys, None
    rest: Any = exp.and_(*residual) if len(residual) > 1 else residual[0]
    return left_keys, right_keys, rest


def _split_eq(part: exp.EQ, left: Scope, right: Scope) -> tuple[Expr, Expr] | None:
    for one, other in ((part.this, part.expression), (part.expression, part.this)):
        try:
            left_side = compile_expr(one, left)
            right_side = compile_expr(other, right)
        except (SqlPlanError, SqlUnsupportedError):
            continue
        return left_side, right_side
    return None


def _converter(compiled: Expr, column: StreamColumn) -> Fn:
    f = compiled.fn
    target = column.sql_type
    source = compiled.sql_type
    if column.not_null:
        name = column.name
        cast = _converter(compiled, StreamColumn(name, target))

        def not_null(row: Row) -> Any:
            value = cast(row)
            if value is None:
                raise RowError(COERCION_ERROR, f"column {name} is NOT NULL")
            return value

        return not_null
    if (
        source is not None
        and _same_family(source, target)
        and not (target.is_string and target.length is not None)
    ):
        return f

    if target.kind is TypeKind.VARCHAR and target.length is not None:
        length = target.length

        def fit(row: Row) -> Any:
            value = f(row)
            if type(value) is str and len(value) <= length:
                return value  # what the CAST gives: the text unchanged
            return None if value is None else fn.cast(value, target, source)

        return fit

    def convert(row: Row) -> Any:
        value = f(row)
        return None if value is None else fn.cast(value, target, source)

    return convert


_FAMILIES = (
    {TypeKind.REAL, TypeKind.DOUBLE},
    {TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INTEGER, TypeKind.BIGINT},
    {TypeKind.CHAR, TypeKind.VARCHAR},
    {TypeKind.TIMESTAMP},
    {TypeKind.DATE},
    {TypeKind.TIME},
    {TypeKind.BOOLEAN},
    {TypeKind.DECIMAL},
)


def _same_family(source: SqlType, target: SqlType) -> bool:
    return any(source.kind in g and target.kind in g for g in _FAMILIES)
