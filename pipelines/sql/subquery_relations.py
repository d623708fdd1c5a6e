"""The relation an ``IN`` or ``EXISTS`` subquery reads when it is more than one reference
table and a WHERE: ``SELECT [DISTINCT] items FROM r [AS a] [[LEFT | RIGHT | FULL | CROSS]
JOIN r … ON … | USING (…)] [WHERE …] [GROUP BY …] [HAVING …] [ORDER BY …]``, where each
``r`` is a reference table or a subquery of that form, and the set operations of such
queries (``UNION [ALL]``, ``INTERSECT``, ``EXCEPT``).

This is plain relational SQL (KDA's language is "based on the SQL:2008 standard"): the
reference tables are relations loaded at start-up, so the subquery is evaluated as a
database would —

- the FROM relations joined row by row (an outer join fills the missing side with NULLs;
  ``USING`` and ``NATURAL`` as :mod:`pipelines.sql.join_using` writes them out), then WHERE;
- with GROUP BY or an aggregate, one row per group (none for an empty input with GROUP BY,
  one without: ``COUNT(*)`` 0, ``MAX`` NULL), HAVING on the groups; a column outside an
  aggregate must be a GROUP BY key;
- DISTINCT and ORDER BY change nothing ``IN`` or ``EXISTS`` can see (membership, not
  order), so ORDER BY is read and not applied;
- ``UNION`` keeps distinct rows, ``UNION ALL`` all, ``INTERSECT`` and ``EXCEPT`` distinct rows
  (rows are equal when no column is distinct: NULL equals NULL, as SQL's set operations
  compare); ``INTERSECT ALL`` and ``EXCEPT ALL`` are not KDA's (SQL Reference, *Query*: "ALL
  is not currently supported for EXCEPT or INTERSECT").

A subquery may be correlated: its expressions may name the columns of the row the predicate
tests. An uncorrelated one is evaluated once, when the pump is planned; a correlated one for
each row, over the tables' rows (no index: keep correlated grouped subqueries to small
tables). The inner scope comes first: an unqualified name of a column of the subquery's
relations is theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamColumn, StreamInfo, TableInfo
from pipelines.sql.compiler import aggregate_name, compile_expr
from pipelines.sql.expr import Expr
from pipelines.sql.join_using import rewrite_join_conditions
from pipelines.sql.nodes import identifier_name
from pipelines.sql.query_shapes import NOT_KDA, PLANNED_CLAUSES, REFUSED_CLAUSES, SELECT_SYNTAX_PAGE
from pipelines.sql.scope import Scope, ScopeColumn
from pipelines.sql.sources import alias_of
from pipelines.sql.subquery_grouping import grouped_rows
from pipelines.sql.types import Row, SqlType

__all__ = ["Relation", "STREAM_SUBQUERY_PAGE", "relation_of", "stream_subquery_error"]

#: Makes the error of a construct at a node.
ErrorAt = Callable[[type, str, "exp.Expression | None"], Exception]

#: Why a stream is no relation an IN or EXISTS subquery can read, in KDA's words.
STREAM_SUBQUERY_PAGE = (
    "a stream's whole history is no relation to test: SQL Reference, JOIN clause, \"It isn't "
    "practical to join the entire history of the left stream\" to the right's, and a window "
    'goes in "analytic functions and streaming JOIN clauses" (WINDOW Clause); join the '
    "stream with a window instead"
)
#: Why SELECT STREAM is no subquery of IN or EXISTS.
SELECT_STREAM_PAGE = (
    'SQL Reference, SELECT statement: STREAM "tells the system to compute the time '
    'differential of a relation", a stream, where IN and EXISTS test a relation'
)
#: Why a window has no place over a reference table.
TABLE_WINDOW_PAGE = (
    'SQL Reference, WINDOW Clause: a window "specifies records in a stream partitioned by '
    'the time range interval or the number of rows"; a reference table has no ROWTIME'
)
SET_ALL_PAGE = 'SQL Reference, Query: "ALL is not currently supported for EXCEPT or INTERSECT"'

#: The clauses a relational subquery may have.
_CLAUSES = {
    "expressions",
    "from_",
    "joins",
    "where",
    "group",
    "having",
    "order",
    "distinct",
    "comments",
}

#: A relation's rows for the row of the outer query (``()`` when it is not correlated).
RowsOf = Callable[[Row], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Relation:
    """A subquery's relation: its columns' names and types, and its rows for an outer row."""

    names: tuple[str, ...]
    types: tuple[SqlType | None, ...]
    rows: RowsOf


def stream_subquery_error(kind: str, name: str, node: exp.Expression, error: ErrorAt) -> Exception:
    return error(
        SqlPlanError,
        NOT_KDA.format(f"{kind} (subquery over stream {name}) ({STREAM_SUBQUERY_PAGE})"),
        node,
    )


def relation_of(
    kind: str,
    query: exp.Expression,
    streams: dict[str, StreamInfo] | Any,
    tables: dict[str, TableInfo] | Any,
    outer: Scope | None,
    error: ErrorAt,
) -> Relation:
    """The relation of ``query``. ``outer`` is the scope of the outer row its expressions may
    name (``None``: none, so a name of the outer query is an unknown column)."""
    return _Builder(kind, streams, tables, outer, error).query(query)


@dataclass
class _Source:
    """A relation of FROM or JOIN: its qualifiers, columns, and rows for an outer row."""

    node: exp.Expression
    qualifiers: tuple[str, ...]
    names: tuple[str, ...]
    types: tuple[SqlType | None, ...]
    rows: RowsOf


class _Builder:
    def __init__(
        self, kind: str, streams: Any, tables: Any, outer: Scope | None, error: ErrorAt
    ) -> None:
        self.kind = kind
        self.streams = streams
        self.tables = tables
        self.outer = outer
        self.error = error
        #: the qualifiers of the relations of the SELECT being compiled: they hide the outer
        #: row's columns of the same qualifier
        self.shadow: frozenset[str] = frozenset()

    # -- queries ---------------------------------------------------------------------------
    def query(self, node: exp.Expression) -> Relation:
        while isinstance(node, exp.Subquery | exp.Paren) and node.this is not None:
            node = node.this
        if isinstance(node, exp.Union | exp.Intersect | exp.Except):
            return self._set_operation(node)
        if not isinstance(node, exp.Select):
            raise self.error(
                SqlUnsupportedError, f"{self.kind} ({type(node).__name__} subquery)", node
            )
        return self._select(node)

    def _set_operation(self, node: exp.Union | exp.Intersect | exp.Except) -> Relation:
        for clause, value in node.args.items():
            if value and clause in REFUSED_CLAUSES:
                where = value if isinstance(value, exp.Expression) else node
                construct = REFUSED_CLAUSES[clause]
                raise self.error(
                    SqlPlanError, f"{NOT_KDA.format(construct)} ({SELECT_SYNTAX_PAGE})", where
                )
        name = {exp.Union: "UNION", exp.Intersect: "INTERSECT", exp.Except: "EXCEPT"}[type(node)]
        distinct = bool(node.args.get("distinct"))
        if not distinct and name != "UNION":
            raise self.error(SqlPlanError, NOT_KDA.format(f"{name} ALL ({SET_ALL_PAGE})"), node)
        left, right = self.query(node.this), self.query(node.expression)
        if len(left.names) != len(right.names):
            raise self.error(
                SqlPlanError,
                f"{name}: the queries have {len(left.names)} and {len(right.names)} columns",
                node,
            )
        lrows, rrows = left.rows, right.rows

        def rows(outer: Row) -> list[tuple[Any, ...]]:
            a, b = lrows(outer), rrows(outer)
            if name == "UNION":
                return a + b if not distinct else list(dict.fromkeys(a + b))
            other = set(b)
            if name == "INTERSECT":
                return [r for r in dict.fromkeys(a) if r in other]
            return [r for r in dict.fromkeys(a) if r not in other]

        return Relation(left.names, left.types, rows)

    def _select(self, select: exp.Select) -> Relation:
        select = select.copy()
        self._check_clauses(select)
        sources = [self._source(select.args["from_"].this)] if select.args.get("from_") else []
        if not sources:
            raise self.error(SqlPlanError, f"{self.kind} subquery without FROM", select)
        joins = list(select.args.get("joins") or [])
        sources.extend(self._source(j.this) for j in joins)
        by_node = {id(s.node): s for s in sources}

        def columns_of(relation: exp.Expression) -> list[StreamColumn]:
            source = by_node[id(relation)]
            return [
                StreamColumn(n, t, qualifiers=source.qualifiers)  # type: ignore[arg-type]
                for n, t in zip(source.names, source.types, strict=True)
            ]

        rewrite_join_conditions(select, columns_of, self.error)
        _qualify(select, sources)
        outer_shadow = self.shadow
        self.shadow = frozenset(q.upper() for s in sources for q in s.qualifiers)
        try:
            return self._evaluate(select, sources)
        finally:
            self.shadow = outer_shadow

    def _evaluate(self, select: exp.Select, sources: list[_Source]) -> Relation:
        offsets = [0]
        for s in sources:
            offsets.append(offsets[-1] + len(s.names))
        width = offsets[-1]
        joined = self._joined(select, sources, offsets, width)
        scope = _scope(sources, offsets, len(sources))
        where = select.args.get("where")
        where_fn = self._compile(where.this, scope, width).fn if where is not None else None
        items = _items(select, sources)
        group = select.args.get("group")
        having = select.args.get("having")
        aggregated = any(
            aggregate_name(n) is not None
            for node in [*items, *([having.this] if having is not None else [])]
            for n in node.walk()
        )
        if having is not None and group is None:
            raise self.error(SqlPlanError, "HAVING needs a GROUP BY", having)
        if group is not None or aggregated:
            output, types = grouped_rows(
                select,
                [_bare(i) for i in items],
                scope,
                width,
                joined,
                where_fn,
                self._compile,
                self.error,
            )
            return Relation(_names(select, items), types, output)
        compiled = [self._compile(_bare(i), scope, width) for i in items]
        fns = [c.fn for c in compiled]

        def rows(outer: Row) -> list[tuple[Any, ...]]:
            out = []
            for row in joined(outer):
                full = row + outer
                if where_fn is None or where_fn(full) is True:
                    out.append(tuple(f(full) for f in fns))
            return out

        return Relation(_names(select, items), tuple(c.sql_type for c in compiled), rows)

    def _check_clauses(self, select: exp.Select) -> None:
        for clause, value in select.args.items():
            if value is None or value is False or value == [] or clause in _CLAUSES:
                continue
            where = value[0] if isinstance(value, list) else value
            where = where if isinstance(where, exp.Expression) else select
            if clause == "stream":
                raise self.error(
                    SqlPlanError,
                    NOT_KDA.format(
                        f"SELECT STREAM in an {self.kind} subquery ({SELECT_STREAM_PAGE})"
                    ),
                    select,
                )
            if clause in ("windows", "stagger"):
                construct = "WINDOW" if clause == "windows" else "WINDOWED BY STAGGER"
                raise self.error(
                    SqlPlanError,
                    NOT_KDA.format(f"{construct} over a reference table ({TABLE_WINDOW_PAGE})"),
                    where,
                )
            if clause not in PLANNED_CLAUSES:
                construct = REFUSED_CLAUSES.get(clause, clause.upper())
                raise self.error(
                    SqlPlanError, f"{NOT_KDA.format(construct)} ({SELECT_SYNTAX_PAGE})", where
                )
            raise self.error(
                SqlUnsupportedError, f"{clause.upper()} in an {self.kind} subquery", where
            )
        for window in select.find_all(exp.Window):
            if isinstance(window.parent, exp.Table):
                continue  # a stream's window (FROM s OVER …): refused as a stream
            raise self.error(
                SqlPlanError,
                NOT_KDA.format(f"a window over a reference table ({TABLE_WINDOW_PAGE})"),
                window,
            )

    # -- FROM and JOIN ---------------------------------------------------------------------
    def _source(self, node: exp.Expression) -> _Source:
        alias_node = node.args.get("alias")
        if isinstance(node, exp.Subquery):
            inner = self.query(node.this)
            alias = (
                identifier_name(alias_node.this)
                if alias_node is not None and alias_node.this
                else ""
            )
            names = inner.names
            renamed = alias_node.args.get("columns") if alias_node is not None else None
            if renamed:
                if len(renamed) != len(names):
                    raise self.error(
                        SqlPlanError,
                        f"{alias or 'the subquery'} names {len(renamed)} columns of {len(names)}",
                        alias_node,
                    )
                names = tuple(identifier_name(c) for c in renamed)
            return _Source(node, (alias,) if alias else (), names, inner.types, inner.rows)
        if not isinstance(node, exp.Table) or isinstance(node.this, exp.Anonymous):
            raise self.error(SqlUnsupportedError, f"{self.kind} subquery FROM {node.sql()}", node)
        name = identifier_name(node.this)
        if node.args.get("over") is not None or name in self.streams:
            raise stream_subquery_error(self.kind, name, node, self.error)
        table = self.tables.get(name)
        if table is None:
            raise self.error(SqlPlanError, f"unknown stream or reference table {name}", node)
        alias = alias_of(node, name)
        names = tuple(c.name for c in table.columns)
        renamed = alias_node.args.get("columns") if alias_node is not None else None
        if renamed:
            if len(renamed) != len(names):
                raise self.error(
                    SqlPlanError,
                    f"{alias} names {len(renamed)} columns of {len(names)}",
                    alias_node,
                )
            names = tuple(identifier_name(c) for c in renamed)
        rows = [tuple(r) for r in table.rows]
        qualifiers = (alias, name) if alias != name else (name,)
        return _Source(
            node, qualifiers, names, tuple(c.sql_type for c in table.columns), lambda _o: rows
        )

    def _joined(
        self, select: exp.Select, sources: list[_Source], offsets: list[int], width: int
    ) -> RowsOf:
        """The joined rows of the FROM relations for an outer row (each without it)."""
        steps: list[tuple[str, Callable[[Row], Any] | None, int, int]] = []
        for k, join in enumerate(select.args.get("joins") or [], start=1):
            side = str(join.args.get("side") or "").upper()
            kind = str(join.args.get("kind") or "").upper()
            on = join.args.get("on")
            if kind == "CROSS" and on is not None:
                raise self.error(SqlPlanError, "a CROSS JOIN has no ON", on)
            if on is None and kind != "CROSS":
                raise self.error(SqlPlanError, f"a JOIN in an {self.kind} subquery needs ON", join)
            scope = _scope(sources, offsets, k + 1)
            fn = self._compile(on, scope, width).fn if on is not None else None
            steps.append((side, fn, offsets[k], offsets[k + 1]))
        first, rest = sources[0], sources[1:]

        def joined(outer: Row) -> list[tuple[Any, ...]]:
            rows = [r for r in first.rows(outer)]
            for source, (side, on, start, end) in zip(rest, steps, strict=True):
                right = source.rows(outer)
                pad_after = (None,) * (width - end)
                lnull, rnull = (None,) * start, (None,) * (end - start)
                matched_right: set[int] = set()
                out = []
                for left in rows:
                    hit = False
                    for j, r in enumerate(right):
                        if on is None or on(left + r + pad_after + outer) is True:
                            out.append(left + r)
                            hit = True
                            matched_right.add(j)
                    if not hit and side in ("LEFT", "FULL"):
                        out.append(left + rnull)
                if side in ("RIGHT", "FULL"):
                    out.extend(lnull + r for j, r in enumerate(right) if j not in matched_right)
                rows = out
            return rows

        return joined

    # -- expressions -----------------------------------------------------------------------
    def _compile(self, node: exp.Expression, inner: Scope, width: int) -> Expr:
        """``node`` over the row ``inner row + outer row`` (``width``: the inner row's)."""
        return compile_expr(node, _with_outer(inner, width, self.outer, self.shadow))


def _with_outer(inner: Scope, width: int, outer: Scope | None, shadow: frozenset[str]) -> Scope:
    if outer is None:
        return inner
    scope = Scope(list(inner.columns))
    for c in outer.columns:
        if c.qualifier.upper() not in shadow:
            scope.add(c.name, c.index + width, c.sql_type, c.qualifier)
    for key, special in outer.specials.items():
        scope.specials[key] = ScopeColumn(
            special.name, special.index + width, special.sql_type, special.qualifier
        )
    scope.specials.update(inner.specials)
    return scope


def _scope(sources: Sequence[_Source], offsets: Sequence[int], count: int) -> Scope:
    """The columns of the first ``count`` sources, each at its place in the joined row."""
    scope = Scope()
    for source, offset in zip(sources[:count], offsets, strict=False):
        for i, (name, sql_type) in enumerate(zip(source.names, source.types, strict=True)):
            for q in source.qualifiers or ("",):
                scope.add(name, offset + i, sql_type, q)
    return scope


def _qualify(select: exp.Select, sources: Sequence[_Source]) -> None:
    """An unqualified name of one relation's column is that relation's (the inner scope
    first), so an outer column of that name does not make it ambiguous."""
    for column in list(select.find_all(exp.Column)):
        if column.args.get("table") is not None or isinstance(column.this, exp.Star):
            continue
        name = identifier_name(column.this)
        owners = [s for s in sources if name in s.names] or [
            s for s in sources if name.upper() in {n.upper() for n in s.names}
        ]
        if len(owners) == 1 and owners[0].qualifiers:
            column.set("table", exp.Identifier(this=owners[0].qualifiers[0], quoted=True))


def _items(select: exp.Select, sources: Sequence[_Source]) -> list[exp.Expression]:
    """The SELECT list, ``*`` and ``t.*`` expanded (``*`` to every relation's columns)."""
    items: list[exp.Expression] = []
    for item in select.expressions:
        if isinstance(item, exp.Star):
            chosen: Sequence[_Source] = sources
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            q = identifier_name(item.args["table"])
            chosen = [
                s
                for s in sources
                if q in s.qualifiers or q.upper() in {x.upper() for x in s.qualifiers}
            ]
        else:
            items.append(item)
            continue
        for source in chosen:
            for name in source.names:
                table = (
                    exp.Identifier(this=source.qualifiers[0], quoted=True)
                    if source.qualifiers
                    else None
                )
                items.append(exp.Column(this=exp.Identifier(this=name, quoted=True), table=table))
    return items


def _names(select: exp.Select, items: Sequence[exp.Expression]) -> tuple[str, ...]:
    names = []
    for i, item in enumerate(items):
        if isinstance(item, exp.Alias):
            names.append(identifier_name(item.args["alias"]))
        elif isinstance(item, exp.Column) and not isinstance(item.this, exp.Star):
            names.append(identifier_name(item.this))
        else:
            names.append(f"EXPR${i}")
    return tuple(names)


def _bare(item: exp.Expression) -> exp.Expression:
    return item.this if isinstance(item, exp.Alias) else item
