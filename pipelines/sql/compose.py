"""A pump's query as pumps: the shapes no single planner takes are split into pumps over
hidden streams.

A planner (:data:`pipelines.sql.plan.PLANNERS`) plans one SELECT over one stream — or two,
for a stream-to-stream join — with reference tables joined. The rest of KDA's query
language is composed of those here:

- a subquery in FROM (``FROM (SELECT STREAM …) AS t(a, b)``) is a pump into a hidden stream
  that the query reads (``t.a``; a row-typed column's fields, ``t.r.COLUMN1``);
- ``UNION ALL``: one pump per branch into the same stream (the engine merges their rows in
  ROWTIME order);
- JOINs: ``USING (…)`` and ``NATURAL`` are written as ``ON`` first
  (:mod:`pipelines.sql.join_using`); a window (GROUP BY, OVER, STAGGER, a table function)
  over a join reads the join from a hidden stream; several stream-to-stream joins are made
  one after the other, each into a hidden stream whose columns keep their qualifiers
  (``o.orderid``, ``o.ROWTIME``);
- ``SELECT DISTINCT``, ``ORDER BY`` and ``expr AS ROWTIME``: a pump computes the rows (with
  their sort keys, or their new ROWTIME) into a hidden stream, and a pump of
  :mod:`pipelines.sql.operators.ordering` distincts, sorts or re-times them;
- ``TABLE(group_rank(CURSOR(…), …))``, and a ``CURSOR`` whose query is more than
  ``SELECT STREAM * FROM s [WHERE …]``: the cursor's query fills a hidden stream;
- ``IN (subquery)`` and ``EXISTS`` over a reference table are bound to their plans
  (:mod:`pipelines.sql.subquery_predicates`) before the query is planned.

Every clause of a SELECT is either planned or refused here, naming it and its place: a
query is never run with a clause left out. Hidden streams and their pumps are named after
the pump (``P$1``, ``P$2``…); the pump that writes the target keeps the pump's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamColumn, StreamInfo, TableInfo
from pipelines.sql.compiler import compile_expr
from pipelines.sql.dialect import Statement, is_cursor
from pipelines.sql.expr import TIMESTAMP, VARCHAR
from pipelines.sql.join_using import rewrite_join_conditions
from pipelines.sql.lineage import column_lineage
from pipelines.sql.nodes import identifier_name
from pipelines.sql.operators.cursor_plan import function_name, streams_through_a_function
from pipelines.sql.operators.ordering_plan import (
    distinct_pump,
    group_rank_pump,
    rowtime_pump,
    sort_pump,
    tsort_pump,
)
from pipelines.sql.planning import PlannedPump, PumpPlanner, PumpQuery, plan_error
from pipelines.sql.query_shapes import (
    GROUP_BY_PAGE,
    GROUP_RANK,
    ITEMS_FUNCTIONS,
    NOT_KDA,
    PLANNED_CLAUSES,
    REFUSED_CLAUSES,
    SELECT_SYNTAX_PAGE,
    SET_OPERATORS_PAGE,
    distinct_leading,
    group_rank_call,
    is_rowtime_alias,
    order_keys,
    rowtime_items,
    table_function,
    table_node,
    trivial_cursor,
    tsort_keys,
    without_monotonic,
)
from pipelines.sql.scope import Scope
from pipelines.sql.sources import alias_of
from pipelines.sql.subquery_predicates import bind_subquery_predicates

__all__ = ["Composer"]


@dataclass
class _Sink:
    """Where a query's rows go: a stream, or a hidden stream made from the query."""

    name: str
    stream: StreamInfo | None = None
    target_columns: tuple[StreamColumn, ...] = ()
    order: tuple[int, ...] = ()
    #: A hidden stream's columns are known by these (a subquery's alias) …
    qualifiers: tuple[str, ...] = ()
    #: … and take these names (``AS t(a, b)``) rather than the items'.
    names: tuple[str, ...] | None = None
    names_node: exp.Expression | None = None

    def made(self, stream: StreamInfo) -> None:
        self.stream = stream
        self.target_columns = stream.columns
        self.order = tuple(range(len(stream.columns)))


class Composer:
    """Plans one ``CREATE PUMP`` as one or more pumps (see the module docs)."""

    def __init__(
        self,
        *,
        application: str,
        streams: MutableMapping[str, StreamInfo],
        tables: Mapping[str, TableInfo],
        statement: Statement,
        pump: str,
        allowed_lateness_ms: int,
        planners: Sequence[PumpPlanner],
        plan_pump: Callable[[PumpQuery, Sequence[PumpPlanner]], PlannedPump],
    ) -> None:
        self.application = application
        self.streams = streams
        self.tables = tables
        self.statement = statement
        self.pump = pump
        self.lateness = allowed_lateness_ms
        self.planners = planners
        self._plan_pump = plan_pump
        self.pumps: list[PlannedPump] = []
        self._count = 0

    def compose(
        self,
        query: exp.Expression,
        target: StreamInfo,
        target_columns: tuple[StreamColumn, ...],
        order: tuple[int, ...],
    ) -> list[PlannedPump]:
        """``INSERT INTO target [(columns)] query`` as pumps, in the order rows flow."""
        self._into(query, _Sink(target.name, target, target_columns, order), self.pump)
        return self.pumps

    # -- helpers ------------------------------------------------------------------------------
    def error(self, kind: type, message: str, node: exp.Expression | None) -> Exception:
        return plan_error(kind, message, node, self.statement)

    def _fresh(self) -> str:
        while True:
            self._count += 1
            name = f"{self.pump}${self._count}"
            if name not in self.streams:
                return name

    def _into(self, node: exp.Expression, sink: _Sink, pump: str) -> None:
        while isinstance(node, exp.Subquery | exp.Paren) and node.this is not None:
            if isinstance(node, exp.Subquery) and node.args.get("alias"):
                break
            node = node.this
        if isinstance(node, exp.Union):
            self._union(node, sink, pump)
        elif isinstance(node, exp.Select):
            self._select(node, sink, pump)
        elif isinstance(node, exp.Except | exp.Intersect):
            raise self.error(
                SqlPlanError,
                _not_kda(f"{type(node).__name__.upper()} of streams", SET_OPERATORS_PAGE),
                node,
            )
        else:
            raise self.error(SqlUnsupportedError, f"{type(node).__name__} as a pump query", node)

    def _hidden(
        self,
        node: exp.Expression,
        *,
        alias: str = "",
        names: tuple[str, ...] | None = None,
        names_node: exp.Expression | None = None,
    ) -> StreamInfo:
        """A hidden stream that ``node``'s rows fill (its pumps are planned)."""
        name = self._fresh()
        sink = _Sink(name, qualifiers=(alias,) if alias else (), names=names, names_node=names_node)
        self._into(node, sink, name)
        assert sink.stream is not None
        return sink.stream

    # -- UNION ALL ----------------------------------------------------------------------------
    def _union(self, node: exp.Union, sink: _Sink, pump: str) -> None:
        if node.args.get("distinct"):
            raise self.error(SqlPlanError, _not_kda("UNION of streams", SET_OPERATORS_PAGE), node)
        for clause in ("limit", "offset", "with_"):
            if node.args.get(clause):
                raise self.error(
                    SqlPlanError, _not_kda(REFUSED_CLAUSES[clause], SELECT_SYNTAX_PAGE), node
                )
        order = node.args.get("order")
        if order is not None:
            bare = node.copy()
            bare.set("order", None)
            hidden = self._hidden(bare)
            select = exp.Select(
                expressions=[exp.Star()],
                from_=exp.From(this=table_node(hidden.name)),
                order=order,
                stream=True,
            )
            self._select(select, sink, pump)
            return
        branches: list[exp.Expression] = []
        stack: list[exp.Expression] = [node]
        while stack:
            part = stack.pop()
            if isinstance(part, exp.Union) and not part.args.get("order"):
                if part.args.get("distinct"):
                    raise self.error(
                        SqlPlanError, _not_kda("UNION of streams", SET_OPERATORS_PAGE), part
                    )
                stack.extend([part.expression, part.this])
            else:
                branches.append(part)
        for i, branch in enumerate(branches):
            self._into(branch, sink, pump if i == 0 else self._fresh())

    # -- SELECT -------------------------------------------------------------------------------
    def _select(self, select: exp.Select, sink: _Sink, pump: str) -> None:
        for clause, value in select.args.items():
            if value is None or value is False or value == []:
                continue
            if clause not in PLANNED_CLAUSES:
                construct = REFUSED_CLAUSES.get(clause, clause.upper())
                where = value if isinstance(value, exp.Expression) else select
                raise self.error(SqlPlanError, _not_kda(construct, SELECT_SYNTAX_PAGE), where)
        group = select.args.get("group")
        for key in group.expressions if group is not None else []:
            if isinstance(key, exp.Literal):
                raise self.error(SqlPlanError, _not_kda("GROUP BY a position", GROUP_BY_PAGE), key)
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on"):
            raise self.error(SqlPlanError, _not_kda("DISTINCT ON", SELECT_SYNTAX_PAGE), distinct)
        if not select.args.get("stream") and not streams_through_a_function(select):
            raise self.error(SqlPlanError, "a pump query must be SELECT STREAM", select)
        select = without_monotonic(select.copy(), self.statement)
        bind_subquery_predicates(select, self.streams, self.tables, self.error)
        self._from(select)
        self._joins(select)
        order = select.args.get("order")
        retime = rowtime_items(select)
        if len(retime) > 1:
            raise self.error(SqlPlanError, "two items AS ROWTIME", retime[1])
        within = order.args.get("within") if order is not None else None
        tsort = within is not None
        if tsort and (not retime or distinct is not None):
            raise self.error(
                SqlPlanError,
                "a T-sort (ORDER BY ts WITHIN …) needs ts in the SELECT list AS ROWTIME, "
                "without DISTINCT (KDA)",
                within,
            )
        if distinct is None and order is None and not retime:
            self._plan(select, sink, pump)
            return
        core = select.copy()
        core.set("distinct", None)
        core.set("order", None)
        if retime:
            item = retime[0]
            core.set("expressions", [e for e in core.expressions if not is_rowtime_alias(e)])
            if (
                distinct is None
                and order is None
                and isinstance(item.this, exp.Column)
                and not item.this.args.get("table")
                and identifier_name(item.this.this) == "ROWTIME"
            ):
                self._plan(core, sink, pump)  # ROWTIME AS ROWTIME: the row's own time
                return
            if not core.expressions:
                raise self.error(SqlPlanError, "a pump selects no columns", select)
            if tsort:
                within_ms, rest = tsort_keys(select, item.this, self.error)
                hidden, width = self._computed(core, sink, [item.this, *(key.this for key in rest)])
                last = tsort_pump(
                    self.statement, pump, hidden, sink.name, width, item.this, within_ms, rest
                )
                self._finish(sink, hidden, width, last)
                return
            if distinct is None and order is None:
                hidden, width = self._computed(core, sink, [item.this])
                last = rowtime_pump(self.statement, pump, hidden, sink.name, width, item.this)
                self._finish(sink, hidden, width, last)
                return
            self._retimed(select, core, item.this, distinct is not None, sink, pump)
            return
        keys = order_keys(select, distinct is not None, self.error) if order is not None else []
        extras: list[exp.Expression] = [key.this for key in keys]
        leading: exp.Expression | None = None
        if distinct is not None:
            leading = distinct_leading(select, self.error)
            extras.append(leading)
        hidden, width = self._computed(core, sink, extras)
        source = hidden
        if distinct is not None:
            assert leading is not None
            # distinct on the columns (and the sort keys, which depend on them only)
            if keys:
                kept = hidden.columns[: width + len(keys)]
                after = self._stream(self._fresh(), kept)
                self.pumps.append(
                    distinct_pump(
                        self.statement,
                        self._fresh(),
                        hidden,
                        after.name,
                        width + len(keys),
                        leading,
                    )
                )
                source = after
            else:
                self._finish(
                    sink,
                    hidden,
                    width,
                    distinct_pump(self.statement, pump, hidden, sink.name, width, leading),
                )
                return
        last = sort_pump(self.statement, pump, source, sink.name, width, keys)
        self._finish(sink, source, width, last)

    def _retimed(
        self,
        select: exp.Select,
        core: exp.Select,
        rowtime: exp.Expression,
        distinct: bool,
        sink: _Sink,
        pump: str,
    ) -> None:
        """``rowtime AS ROWTIME`` with DISTINCT and/or a streaming ORDER BY, in SQL's order:
        the SELECT list makes the rows, each with its new ROWTIME — one that would go back
        in time is an ``Out_Of_Order_Row`` error, as for any ``AS ROWTIME`` (KDA drops rows
        out of time order) — and DISTINCT, then ORDER BY, take the re-timed rows as they
        take any stream's. The item AS ROWTIME is one DISTINCT compares, and the monotonic
        one: the rows of one ROWTIME are distinct. ORDER BY's unqualified ROWTIME is the
        result's, the new one; ``s.ROWTIME`` the input's, still ascending as the re-timed
        rows keep their order. Sorted rows come out with the ROWTIME of their group's last
        row, as ORDER BY's always do."""
        keys = order_keys(select, distinct, self.error, rowtime) if select.args.get("order") else []
        extra = len(keys)
        computed, width = self._computed(core, sink, [*(key.this for key in keys), rowtime])
        name = self._fresh()
        retimed = self._stream(name, computed.columns[: width + extra])
        self.pumps.append(
            rowtime_pump(self.statement, name, computed, name, width + extra, rowtime)
        )
        source = retimed
        if distinct:
            if not keys:
                last = distinct_pump(self.statement, pump, retimed, sink.name, width, None)
                self._finish(sink, retimed, width, last)
                return
            name = self._fresh()
            source = self._stream(name, retimed.columns[: width + extra])
            self.pumps.append(
                distinct_pump(self.statement, name, retimed, name, width + extra, None)
            )
        last = sort_pump(self.statement, pump, source, sink.name, width, keys, retimed=True)
        self._finish(sink, source, width, last)

    def _finish(self, sink: _Sink, hidden: StreamInfo, width: int, last: PlannedPump) -> None:
        """``last`` writes ``sink`` from ``hidden`` (whose first ``width`` columns are the
        sink's): a hidden sink is made of those columns."""
        if sink.stream is None:
            sink.made(self._stream(sink.name, hidden.columns[:width], sink.qualifiers))
        self.pumps.append(last)

    def _stream(
        self, name: str, columns: Sequence[StreamColumn], qualifiers: tuple[str, ...] = ()
    ) -> StreamInfo:
        stream = StreamInfo(
            name,
            tuple(
                StreamColumn(
                    c.name, c.sql_type, qualifiers=qualifiers or c.qualifiers, system=c.system
                )
                for c in columns
            ),
            line=self.statement.line,
            hidden=True,
        )
        self.streams[name] = stream
        return stream

    def _computed(
        self, select: exp.Select, sink: _Sink, extras: Sequence[exp.Expression]
    ) -> tuple[StreamInfo, int]:
        """``select`` (with ``extras`` after its items) planned into a new hidden stream;
        returns it and how many of its columns are the sink's."""
        name = self._fresh()
        query = self._query(select, sink, name, extras=tuple(extras), writes=name)
        self.pumps.append(self._plan_pump(query, self.planners))
        if sink.stream is None:
            names = self._names(sink, query)
            self._renamed(query, names)
            columns = [
                StreamColumn(n, t or VARCHAR)
                for n, t in zip(names, query.inferred[: len(names)], strict=True)
            ]
            width = len(names)
            extra_types = query.inferred[width:]
        else:
            columns = list(sink.stream.columns)
            width = len(columns)
            extra_types = list(query.inferred)
        columns.extend(
            StreamColumn(f"${i}", t or VARCHAR, system=True) for i, t in enumerate(extra_types)
        )
        return self._stream(name, columns), width

    def _query(
        self,
        select: exp.Select,
        sink: _Sink,
        name: str,
        *,
        extras: tuple[exp.Expression, ...] = (),
        writes: str | None = None,
    ) -> PumpQuery:
        return PumpQuery(
            application=self.application,
            streams=self.streams,
            tables=self.tables,
            statement=self.statement,
            name=name,
            target=sink.stream or StreamInfo(sink.name, (), hidden=True),
            target_columns=sink.target_columns,
            order=sink.order,
            select=select,
            allowed_lateness_ms=self.lateness,
            extra_items=extras,
            infer_all=sink.stream is None,
            writes=writes,
        )

    def _names(self, sink: _Sink, query: PumpQuery) -> tuple[str, ...]:
        names = tuple(query.item_names)
        where = sink.names_node or query.select
        if sink.names is not None:
            if len(sink.names) != len(names):
                raise self.error(
                    SqlPlanError,
                    f"AS …({', '.join(sink.names)}) names {len(sink.names)} columns but "
                    f"the subquery has {len(names)}",
                    where,
                )
            names = sink.names
        if "ROWTIME" in names:
            raise self.error(
                SqlPlanError,
                "ROWTIME is not a column a subquery can name (every stream has its own)",
                where,
            )
        return names

    def _renamed(self, query: PumpQuery, names: tuple[str, ...]) -> None:
        """The last pump's items name the columns ``names`` (``AS t(a, b)``): its lineage
        follows."""
        if tuple(query.item_names) != names:
            query.item_names[:] = names
            self.pumps[-1].lineage = column_lineage(query, self.pumps[-1])

    def _plan(self, select: exp.Select, sink: _Sink, pump: str) -> None:
        if (
            select.args.get("having") is not None
            and select.args.get("group") is None
            and select.args.get("stagger") is None
        ):
            raise self.error(
                SqlPlanError,
                "HAVING needs a GROUP BY (or WINDOWED BY STAGGER) in a streaming query",
                select.args["having"],
            )
        if group_rank_call(select) is not None:
            self._group_rank(select, sink, pump)
            return
        query = self._query(select, sink, pump)
        self.pumps.append(self._plan_pump(query, self.planners))
        if sink.stream is None:
            names = self._names(sink, query)
            self._renamed(query, names)
            sink.made(
                self._stream(
                    sink.name,
                    [
                        StreamColumn(n, t or VARCHAR)
                        for n, t in zip(names, query.inferred, strict=True)
                    ],
                    sink.qualifiers,
                )
            )

    # -- FROM ---------------------------------------------------------------------------------
    def _from(self, select: exp.Select) -> None:
        """A subquery in FROM becomes a hidden stream; so does a cursor's query that is more
        than ``SELECT STREAM * FROM s [WHERE …]``."""
        from_ = select.args.get("from_")
        if from_ is None:
            raise self.error(SqlPlanError, "SELECT STREAM needs FROM", select)
        node = from_.this
        if isinstance(node, exp.Subquery):
            select.set("from_", exp.From(this=self._subquery_table(node)))
        elif isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous):
            function = function_name(select)
            for cursor in [c for c in node.find_all(exp.Anonymous) if is_cursor(c)]:
                query = cursor.expressions[0] if cursor.expressions else None
                if query is None:
                    raise self.error(SqlPlanError, "CURSOR takes (SELECT STREAM …)", cursor)
                if function == GROUP_RANK:
                    materialize = True
                elif function in ITEMS_FUNCTIONS:  # these read a column of the cursor's FROM
                    materialize = not trivial_cursor(query, star=True)
                else:  # the ML functions plan a cursor's SELECT list themselves
                    materialize = not trivial_cursor(query, star=False)
                if materialize:
                    hidden = self._hidden(query)
                    cursor.set(
                        "expressions",
                        [
                            exp.Select(
                                expressions=[exp.Star()],
                                from_=exp.From(this=table_node(hidden.name)),
                                stream=True,
                            )
                        ],
                    )
        elif not isinstance(node, exp.Table):
            raise self.error(SqlUnsupportedError, f"FROM {node.sql()}", node)

    def _subquery_table(self, node: exp.Subquery) -> exp.Table:
        alias_node = node.args.get("alias")
        alias = identifier_name(alias_node.this) if alias_node and alias_node.this else ""
        columns = alias_node.args.get("columns") if alias_node else None
        names = tuple(identifier_name(c) for c in columns) if columns else None
        if node.args.get("over") is not None:
            raise self.error(SqlUnsupportedError, "a window on a subquery", node)
        hidden = self._hidden(node.this, alias=alias, names=names, names_node=alias_node)
        table = table_node(hidden.name)
        if alias:
            table.set("alias", exp.TableAlias(this=exp.Identifier(this=alias, quoted=True)))
        return table

    # -- JOIN ---------------------------------------------------------------------------------
    def _joins(self, select: exp.Select) -> None:
        """Leave ``select`` with the joins one planner takes: reference tables only, or one
        stream-to-stream join; a window reads its join from a hidden stream."""
        joins = list(select.args.get("joins") or [])
        if not joins:
            return
        for join in joins:
            if isinstance(join.this, exp.Subquery):
                over = join.this.args.get("over")
                table = self._subquery_table(join.this)
                if over is not None:
                    table.set("over", over)
                join.set("this", table)
        # USING and NATURAL as ON, with the join columns written out (see join_using)
        rewrite_join_conditions(select, self._relation_columns, self.error)
        windowed = (
            select.args.get("group") is not None
            or select.args.get("stagger") is not None
            or any(item.find(exp.Window) is not None for item in select.expressions)
            or table_function(select)
        )
        if windowed:
            self._materialize(select, len(joins))
            return
        while True:
            joins = list(select.args.get("joins") or [])
            streams = [i for i, _ in enumerate(joins) if self._is_stream_join(select, i)]
            if not streams or (streams == [0] and len(joins) == 1):
                return
            last = streams[-1]
            self._materialize(select, last if last > 0 else 1)

    def _is_stream_join(self, select: exp.Select, index: int) -> bool:
        joined = select.args["joins"][index].this
        if not isinstance(joined, exp.Table):
            return False
        left = select.args["from_"].this
        return bool(
            joined.args.get("over") is not None
            or identifier_name(joined.this) in self.streams
            or (index == 0 and isinstance(left, exp.Table) and left.args.get("over"))
        )

    def _materialize(self, select: exp.Select, count: int) -> None:
        """FROM and the first ``count`` joins of ``select`` into a hidden stream, which
        ``select`` then reads; its columns keep their qualifiers."""
        from_node = select.args["from_"].this
        joins = list(select.args["joins"])
        relations = [from_node, *[j.this for j in joins[:count]]]
        columns: list[StreamColumn] = []
        items: list[exp.Expression] = []
        for relation in relations:
            for column in self._relation_columns(relation):
                columns.append(column)
                items.append(
                    exp.Column(
                        this=exp.Identifier(this=column.name, quoted=True),
                        table=exp.Identifier(this=column.qualifiers[0], quoted=True),
                    )
                )
        name = self._fresh()
        hidden = self._stream(name, columns)
        inner = exp.Select(
            expressions=items,
            from_=exp.From(this=from_node),
            joins=joins[:count],
            stream=True,
        )
        if any(
            r.args.get("over") is not None and r.args["over"].args.get("spec") is None
            for r in relations
        ):
            inner.set("windows", select.args.get("windows"))  # a join's OVER w names one
        self._plan(inner, _Sink(name, hidden, hidden.columns, tuple(range(len(columns)))), name)
        select.set("from_", exp.From(this=table_node(name)))
        select.set("joins", joins[count:] or None)

    def _relation_columns(self, relation: exp.Expression) -> list[StreamColumn]:
        """The columns a relation of a join gives the row: a stream's ROWTIME (a system
        column), a source's arrival time, then its columns; a table's columns."""
        if not isinstance(relation, exp.Table) or isinstance(relation.this, exp.Anonymous):
            raise self.error(SqlUnsupportedError, f"JOIN of {relation.sql()}", relation)
        name = identifier_name(relation.this)
        alias = alias_of(relation, name)
        qualifiers = (alias, name) if alias != name else (name,)
        stream = self.streams.get(name)
        if stream is not None:
            out = [StreamColumn("ROWTIME", TIMESTAMP, qualifiers=qualifiers, system=True)]
            if stream.source:
                out.append(
                    StreamColumn(
                        "APPROXIMATE_ARRIVAL_TIME", TIMESTAMP, qualifiers=qualifiers, system=True
                    )
                )
            out.extend(
                StreamColumn(
                    c.name, c.sql_type, qualifiers=c.qualifiers or qualifiers, system=c.system
                )
                for c in stream.columns
            )
            return out
        table = self.tables.get(name)
        if table is None:
            raise self.error(SqlPlanError, f"unknown stream or reference table {name}", relation)
        return [StreamColumn(c.name, c.sql_type, qualifiers=qualifiers) for c in table.columns]

    # -- ORDER BY, DISTINCT, group_rank -------------------------------------------------------
    def _group_rank(self, select: exp.Select, sink: _Sink, pump: str) -> None:
        """``FROM TABLE(group_rank(CURSOR(…), …))``: the cursor's rows (a hidden stream) are
        ranked into another, which the rest of the query reads."""
        call = group_rank_call(select)
        assert call is not None
        args = list(call.expressions)
        cursor_query = args[0].expressions[0] if args and is_cursor(args[0]) else None
        source_name = (
            identifier_name(cursor_query.args["from_"].this.this)
            if isinstance(cursor_query, exp.Select)
            else ""
        )
        source = self.streams.get(source_name)
        if source is None:
            raise self.error(SqlPlanError, "group_rank takes CURSOR(SELECT STREAM …) first", call)
        scope = Scope()
        constants = []
        for arg in args[1:]:
            value = compile_expr(arg, scope)
            if not value.is_constant:
                raise self.error(SqlPlanError, "group_rank's arguments are constants", arg)
            constants.append(value.constant)
        name = self._fresh()
        ranked, rank_pump = group_rank_pump(self.statement, name, source, call, constants)
        self.streams[ranked.name] = ranked
        self.pumps.append(rank_pump)
        rest = select.copy()
        rest.set("from_", exp.From(this=table_node(ranked.name)))
        self._plan(rest, sink, pump)


def _not_kda(construct: str, page: str) -> str:
    """The message for a construct KDA's dialect does not have, with where the reference
    says so."""
    return f"{NOT_KDA.format(construct)} ({page})"
