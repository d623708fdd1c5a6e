"""``x [NOT] IN (SELECT …)`` and ``[NOT] EXISTS (SELECT …)`` over a reference table.

KDA's SQL Reference (*Streaming SQL Operators*, sql-reference-streaming-operators.html): IN
"tests a scalar or row value for membership in a list of values, a relational expression,
or a subquery" — its example is ``(col1, col2) IN (select a, b from my_table)`` — and EXISTS
"tests whether a relational expression returns any rows". The relation such a subquery reads
in an application is a reference table, the in-application table KDA loads from S3 (the
rows :mod:`pipelines.sql.reference` loaded at start-up): ``SELECT [DISTINCT] items FROM
table [AS t] [WHERE …]``, without ``STREAM``.

Semantics are SQL's (the language is "based on the SQL:2008 standard"), in three-valued
logic: ``v IN (subquery)`` is TRUE when a row of the subquery equals ``v``, else NULL when
some row might (a NULL on either side, no column different), else FALSE — so ``v NOT IN``
a subquery that returns a NULL is never TRUE, and anything ``IN`` an empty subquery is FALSE
(``NULL NOT IN`` it TRUE). EXISTS is never NULL.

The subquery may be *correlated*: its WHERE may name columns of the pump's row (``WHERE
t.ticker = s.ticker_symbol``). A name of the table's columns means the table's (the inner
scope first, as in SQL); other names are the outer row's. An uncorrelated subquery is
evaluated once, when the pump is planned (a hash set, a linear scan only for rows with
NULLs); a correlated one is a hash lookup on its equi-join conditions — split as a reference
join's ON is (:func:`~pipelines.sql.planning.split_join_keys`) — then a test of the rest.

Any other subquery over reference tables — with JOINs, GROUP BY and HAVING, aggregates,
ORDER BY, subqueries in its FROM, a set operation — is evaluated as a relation by
:mod:`pipelines.sql.subquery_relations`. What KDA cannot evaluate is refused in its words: a
subquery over a stream (a stream's whole history is no relation; KDA's windows go in
analytic functions and stream joins), ``SELECT STREAM`` in the subquery (a stream, not a
relation), a window over a reference table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamInfo, TableInfo
from pipelines.sql.compiler import BoundSubquery, SubqueryPlan, aggregate_name, compile_expr
from pipelines.sql.expr import BOOLEAN, Expr, coerce_literal, constant
from pipelines.sql.nodes import identifier_name, node_position
from pipelines.sql.planning import split_join_keys
from pipelines.sql.scope import Scope, ScopeColumn
from pipelines.sql.sources import alias_of
from pipelines.sql.subquery_relations import relation_of
from pipelines.sql.types import Fn, Row, SqlType

__all__ = ["bind_subquery_predicates", "in_rows"]

#: Makes the error of a construct at a node (the pump's statement when the node has no place).
ErrorAt = Callable[[type, str, "exp.Expression | None"], Exception]

#: The clauses a predicate's subquery may have.
_SUBQUERY_CLAUSES = {"expressions", "from_", "where", "distinct", "comments"}


def bind_subquery_predicates(
    select: exp.Expression,
    streams: Mapping[str, StreamInfo],
    tables: Mapping[str, TableInfo],
    error: ErrorAt,
) -> None:
    """Replace every ``IN (subquery)`` and ``EXISTS`` in ``select`` (in place) by a
    :class:`~pipelines.sql.compiler.BoundSubquery` on the reference table it reads; the
    innermost first, so a subquery's own predicates are bound in its scope."""
    found = [
        n
        for n in select.walk()
        if isinstance(n, exp.Exists) or (isinstance(n, exp.In) and n.args.get("query"))
    ]
    for node in reversed(found):  # breadth-first reversed: children before their parents
        bound = _bind(node, streams, tables, error)
        line, column = node_position(node)
        if line:
            bound.meta.update(line=line, col=column)
        node.replace(bound)


def _bind(
    node: exp.Expression,
    streams: Mapping[str, StreamInfo],
    tables: Mapping[str, TableInfo],
    error: ErrorAt,
) -> BoundSubquery:
    kind = "EXISTS" if isinstance(node, exp.Exists) else "IN"
    query = node.this if kind == "EXISTS" else node.args["query"]
    while isinstance(query, exp.Subquery | exp.Paren) and query.this is not None:
        query = query.this
    if isinstance(query, exp.Select) and _one_table(query, tables):
        plan: SubqueryPlan = _table_plan(kind, query, tables)
    else:
        plan = _RelationalSubquery(kind, query.copy(), streams, tables, error)
    if kind == "IN":
        tested = node.this
        return BoundSubquery.bind(tested.copy(), node.sql(), plan)
    return BoundSubquery.bind(None, node.sql(), plan)


def _one_table(select: exp.Select, tables: Mapping[str, TableInfo]) -> bool:
    """``SELECT [DISTINCT] items FROM table [AS t] [WHERE …]`` without an aggregate: a hash
    lookup (see the module docs); anything else is evaluated as a relation."""
    for clause, value in select.args.items():
        if not (value is None or value is False or value == [] or clause in _SUBQUERY_CLAUSES):
            return False
    from_ = select.args.get("from_")
    relation = from_.this if from_ is not None else None
    if not isinstance(relation, exp.Table) or isinstance(relation.this, exp.Anonymous):
        return False
    alias = relation.args.get("alias")
    if relation.args.get("over") is not None or (alias is not None and alias.args.get("columns")):
        return False
    if identifier_name(relation.this) not in tables:
        return False
    return not any(
        aggregate_name(n) is not None or isinstance(n, exp.Window)
        for item in select.expressions
        for n in item.walk()
    )


def _table_plan(kind: str, query: exp.Select, tables: Mapping[str, TableInfo]) -> _TableSubquery:
    relation = query.args["from_"].this
    name = identifier_name(relation.this)
    table = tables[name]
    alias = alias_of(relation, name)
    qualifiers = (alias, name) if alias != name else (alias,)
    inner = query.copy()
    _qualify_inner_columns(inner, table, alias)
    items = _items(inner, table, alias) if kind == "IN" else []
    condition = inner.args.get("where")
    return _TableSubquery(
        kind, table, qualifiers, tuple(items), condition.this if condition is not None else None
    )


def _qualify_inner_columns(select: exp.Select, table: TableInfo, alias: str) -> None:
    """An unqualified name of one of the table's columns is the table's (the innermost scope
    comes first); qualify it, so the outer row's column of that name does not make it
    ambiguous. (Bound predicates inside keep their subqueries to themselves.)"""
    names = {c.name for c in table.columns}
    upper = {c.name.upper() for c in table.columns}
    for column in list(select.find_all(exp.Column)):
        if column.args.get("table") is not None:
            continue
        name = identifier_name(column.this)
        if name in names or name.upper() in upper:
            column.set("table", exp.Identifier(this=alias, quoted=True))


def _items(select: exp.Select, table: TableInfo, alias: str) -> list[exp.Expression]:
    """The subquery's SELECT list, ``*`` and ``t.*`` expanded to the table's columns."""
    items: list[exp.Expression] = []
    for item in select.expressions:
        star = isinstance(item, exp.Star) or (
            isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        )
        if star:
            items.extend(
                exp.Column(
                    this=exp.Identifier(this=c.name, quoted=True),
                    table=exp.Identifier(this=alias, quoted=True),
                )
                for c in table.columns
            )
        else:
            items.append(item.this if isinstance(item, exp.Alias) else item)
    return items


@dataclass(frozen=True, eq=False)
class _TableSubquery:
    """The plan of one predicate over ``table`` (see the module docs)."""

    kind: str
    table: TableInfo
    qualifiers: tuple[str, ...]
    items: tuple[exp.Expression, ...]
    where: exp.Expression | None

    def compile(self, node: BoundSubquery, scope: Scope) -> Expr:
        inner = Scope()
        for i, column in enumerate(self.table.columns):
            for qualifier in self.qualifiers:
                inner.add(column.name, i, column.sql_type, qualifier)
        tested = _tested(self.kind, node, scope, len(self.items))
        try:  # uncorrelated: it reads the table's columns only
            where = compile_expr(self.where, inner).fn if self.where is not None else None
            items = [compile_expr(i, inner) for i in self.items]
        except SqlPlanError:
            return self._correlated(inner, scope, tested)
        rows = [
            tuple(item.fn(row) for item in items)
            for row in self.table.rows
            if where is None or where(row) is True
        ]
        if self.kind == "EXISTS":
            return constant(bool(rows), BOOLEAN)
        assert tested is not None
        return _membership(tested, items, rows)

    def _correlated(self, inner: Scope, outer: Scope, tested: list[Expr] | None) -> Expr:
        """Per row: the table rows its equi-join keys find, then the rest of WHERE, on the
        table row followed by the outer row."""
        shadowed = set(self.qualifiers)
        visible = Scope(
            [c for c in outer.columns if c.qualifier not in shadowed], dict(outer.specials)
        )
        width = len(self.table.columns)
        both = Scope(list(inner.columns))
        for c in visible.columns:
            both.add(c.name, c.index + width, c.sql_type, c.qualifier)
        for key, special in visible.specials.items():
            both.specials[key] = ScopeColumn(
                special.name, special.index + width, special.sql_type, special.qualifier
            )
        if self.where is not None:
            outer_keys, table_keys, rest = split_join_keys(self.where, visible, inner)
        else:
            outer_keys, table_keys, rest = [], [], None
        residual = compile_expr(rest, both).fn if rest is not None else None
        index = _index(self.table.rows, [k.fn for k in table_keys])
        keys = tuple(k.fn for k in outer_keys)
        item_exprs = [compile_expr(i, both) for i in self.items]
        items = tuple(e.fn for e in item_exprs)

        def matches(row: Row) -> Iterable[Row]:
            key = tuple(f(row) for f in keys)
            if None in key:
                return
            for table_row in index.get(key, ()):
                combined = table_row + row
                if residual is None or residual(combined) is True:
                    yield combined

        if tested is None:

            def exists(row: Row) -> bool:
                return any(True for _ in matches(row))

            return Expr(exists, BOOLEAN)
        values = _value_fns(tested, item_exprs)

        def in_correlated(row: Row) -> Any:
            value = tuple(f(row) for f in values)
            return in_rows(value, (tuple(f(c) for f in items) for c in matches(row)))

        return Expr(in_correlated, BOOLEAN)


@dataclass(frozen=True, eq=False)
class _RelationalSubquery:
    """The plan of one predicate over a relation of reference tables (see
    :mod:`pipelines.sql.subquery_relations`): evaluated once when it names nothing of the
    outer row, else for each row."""

    kind: str
    query: exp.Expression
    streams: Mapping[str, StreamInfo]
    tables: Mapping[str, TableInfo]
    error: ErrorAt

    def compile(self, node: BoundSubquery, scope: Scope) -> Expr:
        try:
            relation = relation_of(
                self.kind, self.query, self.streams, self.tables, None, self.error
            )
        except SqlPlanError:
            return self._correlated(node, scope)
        tested = _tested(self.kind, node, scope, len(relation.names))
        rows = relation.rows(())
        if tested is None:
            return constant(bool(rows), BOOLEAN)
        return _membership(tested, _typed(relation.types), rows)

    def _correlated(self, node: BoundSubquery, scope: Scope) -> Expr:
        relation = relation_of(self.kind, self.query, self.streams, self.tables, scope, self.error)
        tested = _tested(self.kind, node, scope, len(relation.names))
        rows_of = relation.rows
        if tested is None:

            def exists(row: Row) -> bool:
                return bool(rows_of(row))

            return Expr(exists, BOOLEAN)
        values = _value_fns(tested, _typed(relation.types))

        def in_correlated(row: Row) -> Any:
            return in_rows(tuple(f(row) for f in values), rows_of(row))

        return Expr(in_correlated, BOOLEAN)


def _typed(types: Sequence[SqlType | None]) -> list[Expr]:
    """Stand-ins for a relation's columns, by type (what :func:`_value_fns` reads)."""
    return [Expr(lambda _row: None, t) for t in types]


def _tested(kind: str, node: BoundSubquery, scope: Scope, columns: int) -> list[Expr] | None:
    """The values IN tests, compiled in the outer row's scope (``None`` for EXISTS)."""
    if kind == "EXISTS":
        return None
    this = node.this
    values = this.expressions if isinstance(this, exp.Tuple) else [this]
    if len(values) != columns:
        line, column = node_position(node)
        raise SqlPlanError(
            f"IN tests {len(values)} value(s) against a subquery of {columns} column(s)",
            line=line,
            column=column,
        )
    return [compile_expr(v, scope) for v in values]


def _index(rows: Sequence[Row], keys: Sequence[Fn]) -> dict[tuple[Any, ...], list[Row]]:
    """The table's rows by their key (``()`` for all, without keys); a key with a NULL
    matches nothing."""
    index: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        key = tuple(f(row) for f in keys)
        if None not in key:
            index.setdefault(key, []).append(row)
    return index


def _value_fns(tested: list[Expr], items: Sequence[Expr]) -> list[Fn]:
    """The tested values' functions; a constant is converted to its item's type once (a
    string literal against a TIMESTAMP column)."""
    fns: list[Fn] = []
    for value, item in zip(tested, items, strict=True):
        if value.is_constant:
            fns.append(constant(coerce_literal(value.constant, item.sql_type), None).fn)
        else:
            fns.append(value.fn)
    return fns


def _membership(tested: list[Expr], items: list[Expr], rows: list[tuple[Any, ...]]) -> Expr:
    """``tested IN rows`` for an uncorrelated subquery: a hash set of the rows without NULLs;
    the rows with one are scanned only when the value is not in the set."""
    values = _value_fns(tested, items)
    complete = {r for r in rows if None not in r}
    partial = [r for r in rows if None in r]
    if not rows:
        return constant(False, BOOLEAN)
    if len(values) == 1:
        (vf,) = values
        singles = {r[0] for r in complete}
        has_null = bool(partial)

        def in_column(row: Row) -> Any:
            v = vf(row)
            if v is None:
                return None
            if v in singles:
                return True
            return None if has_null else False

        return Expr(in_column, BOOLEAN)

    def in_set(row: Row) -> Any:
        value = tuple(f(row) for f in values)
        if None not in value:
            if value in complete:
                return True
            return in_rows(value, partial) if partial else False
        return in_rows(value, rows)

    return Expr(in_set, BOOLEAN)


def in_rows(value: tuple[Any, ...], rows: Iterable[tuple[Any, ...]]) -> bool | None:
    """SQL's ``value IN rows`` for a row value: TRUE when a row equals it, else NULL when a
    row might (no column different, one NULL on either side), else FALSE (no rows: FALSE)."""
    unknown = False
    for candidate in rows:
        same: bool | None = True
        for a, b in zip(value, candidate, strict=True):
            if a is None or b is None:
                same = None
            elif a != b:
                same = False
                break
        if same is True:
            return True
        if same is None:
            unknown = True
    return None if unknown else False
