"""GROUP BY, HAVING and aggregates in the relational subquery of an ``IN`` or ``EXISTS``
(see :mod:`pipelines.sql.subquery_relations`): one row per group of the joined, filtered
rows — none for no rows with GROUP BY, one without it (``COUNT(*)`` 0, ``MAX`` NULL) —
HAVING on the groups, the items over the group.

Each item (and HAVING) is rewritten over the row ``(*keys, *aggregates)`` of a group: an
expression the same as a GROUP BY key (its columns qualified alike) becomes that key, an
aggregate its result; a column of the subquery's relations left over must appear in GROUP BY
or inside an aggregate. A column of the outer row is one value for the whole subquery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.aggregates import AGGREGATES, DISTINCT_SUFFIX, AggregateSpec
from pipelines.sql.compiler import WINDOW_ONLY_FUNCTIONS, aggregate_name
from pipelines.sql.expr import Expr
from pipelines.sql.nodes import identifier_name
from pipelines.sql.query_shapes import NOT_KDA
from pipelines.sql.scope import Scope, ScopeColumn
from pipelines.sql.types import Row, SqlType

__all__ = ["grouped_rows"]

#: Makes the error of a construct at a node.
ErrorAt = Callable[[type, str, "exp.Expression | None"], Exception]
#: Compiles a node over ``inner row + outer row``, given the inner scope and its width.
CompileAt = Callable[[exp.Expression, Scope, int], Expr]
#: A relation's rows for the outer row.
RowsOf = Callable[[Row], list[tuple[Any, ...]]]

#: The aggregates whose page in the SQL Reference has DISTINCT (and COUNT).
_DISTINCT_AGGREGATES = frozenset(
    {"COUNT", "SUM", "AVG", "VAR_POP", "VAR_SAMP", "STDDEV_POP", "STDDEV_SAMP"}
)
#: The prefix of the names a group's keys and aggregates are read by.
_PREFIX = "__SQ_"


def grouped_rows(
    select: exp.Select,
    items: list[exp.Expression],
    scope: Scope,
    width: int,
    joined: RowsOf,
    where: Callable[[Row], Any] | None,
    compile_at: CompileAt,
    error: ErrorAt,
) -> tuple[RowsOf, tuple[SqlType | None, ...]]:
    """The rows of a grouped ``select`` (its ``items`` without aliases) over the rows
    ``joined`` gives (of ``width`` columns, seen through ``scope``) that pass ``where``;
    and the items' types."""
    group = select.args.get("group")
    key_nodes = list(group.expressions) if group is not None else []
    for key in key_nodes:
        if isinstance(key, exp.Literal):
            raise error(SqlPlanError, NOT_KDA.format("GROUP BY a position"), key)
    keys = [compile_at(k, scope, width) for k in key_nodes]
    key_texts = [_text(k) for k in key_nodes]
    aggs: list[tuple[AggregateSpec, Callable[[Row], Any] | None]] = []
    agg_texts: list[str] = []
    agg_types: list[SqlType | None] = []

    def visit(n: exp.Expression) -> exp.Expression:
        text = _text(n) if not isinstance(n, exp.Literal | exp.Star) else None
        if text is not None and text in key_texts:
            return _placeholder(f"{_PREFIX}K{key_texts.index(text)}")
        if isinstance(n, exp.Anonymous) and str(n.this).upper() in WINDOW_ONLY_FUNCTIONS:
            raise error(
                SqlPlanError, f"{str(n.this).upper()} is only allowed OVER a sliding window", n
            )
        if aggregate_name(n) is not None:
            if text not in agg_texts:
                spec, fn, sql_type = _aggregate(n, scope, width, compile_at, error)
                agg_texts.append(text or "")
                aggs.append((spec, fn))
                agg_types.append(sql_type)
            return _placeholder(f"{_PREFIX}A{agg_texts.index(text or '')}")
        return n

    having = select.args.get("having")
    rewritten = [i.transform(visit) for i in items]
    having_node = having.this.transform(visit) if having is not None else None
    for node in [*rewritten, *([having_node] if having_node is not None else [])]:
        _check_grouped(node, scope, error)
    group_scope = Scope()
    for i, key in enumerate(keys):
        group_scope.specials[f"{_PREFIX}K{i}"] = ScopeColumn(f"{_PREFIX}K{i}", i, key.sql_type)
    for j, sql_type in enumerate(agg_types):
        name = f"{_PREFIX}A{j}"
        group_scope.specials[name] = ScopeColumn(name, len(keys) + j, sql_type)
    group_width = len(keys) + len(aggs)
    outputs = [compile_at(n, group_scope, group_width) for n in rewritten]
    having_fn = compile_at(having_node, group_scope, group_width).fn if having_node else None
    key_fns = [k.fn for k in keys]
    out_fns = [o.fn for o in outputs]
    grouped_by = group is not None

    def rows(outer: Row) -> list[tuple[Any, ...]]:
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for row in joined(outer):
            full = row + outer
            if where is not None and where(full) is not True:
                continue
            key = tuple(f(full) for f in key_fns)
            accs = groups.get(key)
            if accs is None:
                accs = groups[key] = [spec.create() for spec, _ in aggs]
            for acc, (spec, arg) in zip(accs, aggs, strict=True):
                value = True if arg is None else arg(full)
                if value is not None or spec.sees_nulls:
                    acc.add(value)
        if not groups and not grouped_by:
            groups[()] = [spec.create() for spec, _ in aggs]
        out = []
        for key, accs in groups.items():
            group_row = key + tuple(a.result() for a in accs) + outer
            if having_fn is None or having_fn(group_row) is True:
                out.append(tuple(f(group_row) for f in out_fns))
        return out

    return rows, tuple(o.sql_type for o in outputs)


def _check_grouped(node: exp.Expression, scope: Scope, error: ErrorAt) -> None:
    for column in node.find_all(exp.Column):
        if identifier_name(column.this).startswith(_PREFIX):
            continue
        try:
            scope.resolve(column)
        except SqlPlanError:
            continue  # the outer row's: one value for the whole subquery
        raise error(
            SqlPlanError,
            f"column {identifier_name(column.this)} must appear in GROUP BY or inside an aggregate",
            column,
        )


def _aggregate(
    node: exp.Expression, scope: Scope, width: int, compile_at: CompileAt, error: ErrorAt
) -> tuple[AggregateSpec, Callable[[Row], Any] | None, SqlType | None]:
    name = aggregate_name(node)
    assert name is not None
    arg = node.expressions[0] if isinstance(node, exp.Anonymous) else node.this
    if isinstance(node, exp.Anonymous) and len(node.expressions) != 1:
        raise error(SqlPlanError, f"{name} takes one argument", node)
    if isinstance(node, exp.Count) and (arg is None or isinstance(arg, exp.Star)):
        count = AGGREGATES["COUNT"]
        return count, None, count.returns(None)
    if isinstance(arg, exp.Distinct):
        if name not in _DISTINCT_AGGREGATES or len(arg.expressions) != 1:
            raise error(
                SqlPlanError,
                f"KDA for SQL does not support {name}(DISTINCT …) here (SQL Reference, {name})",
                node,
            )
        arg = arg.expressions[0]
        name += DISTINCT_SUFFIX
    spec = AGGREGATES.get(name)
    if spec is None:
        raise error(SqlUnsupportedError, f"aggregate {name}", node)
    compiled = compile_at(arg, scope, width)
    return spec, compiled.fn, spec.returns(compiled.sql_type)


def _text(node: exp.Expression) -> str:
    """An expression's identity: names normalised, qualifiers kept (``t.x`` is not
    ``c.x`` when the subquery joins two relations)."""

    def normalise(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star):
            table = n.args.get("table")
            return exp.Column(
                this=exp.Identifier(this=identifier_name(n.this).upper(), quoted=True),
                table=exp.Identifier(this=identifier_name(table).upper(), quoted=True)
                if table is not None
                else None,
            )
        return n

    return node.transform(normalise).sql()


def _placeholder(name: str) -> exp.Column:
    return exp.Column(this=exp.Identifier(this=name, quoted=True))
