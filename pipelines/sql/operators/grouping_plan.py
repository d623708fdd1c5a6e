"""Planning of grouped queries, shared by tumbling and stagger windows: the SELECT list (and
HAVING) over the row ``(ROWTIME, *keys, *aggregates)`` a window gives for each group.

Each item is rewritten: a GROUP BY (or PARTITION BY) key becomes a reference to that key, an
aggregate a reference to its result, ROWTIME the window's time; a column left over must
appear in GROUP BY or inside an aggregate. :func:`agg_call` — one aggregate call — serves
sliding windows too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.aggregates import AGGREGATES, DISTINCT_SUFFIX
from pipelines.sql.catalog import StreamInfo
from pipelines.sql.compiler import WINDOW_ONLY_FUNCTIONS, aggregate_name, compile_expr
from pipelines.sql.expr import TIMESTAMP, Expr
from pipelines.sql.nodes import identifier_name
from pipelines.sql.operators.tumbling import AggCall
from pipelines.sql.planning import PumpQuery, canonical
from pipelines.sql.scope import Scope, ScopeColumn
from pipelines.sql.types import Fn, is_year_month

__all__ = ["Grouped", "agg_call", "plan_grouped", "year_month_aggregate"]


@dataclass(frozen=True, slots=True)
class Grouped:
    """A grouped query's outputs over the row ``(ROWTIME, *keys, *aggregates)``."""

    outputs: list[Fn]
    aggs: list[AggCall]
    having: Fn | None


#: The aggregates a year-month interval may go through (they only compare or count values).
_ORDER_ONLY = frozenset({"COUNT", "COUNT_DISTINCT", "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE"})


def year_month_aggregate(name: str) -> str:
    """The message for ``name`` (an aggregate that adds its values) of a year-month interval,
    which KDA's pages do not take."""
    page = name.removesuffix(DISTINCT_SUFFIX)
    syntax = (
        f"its syntax takes a number-expression (SQL Reference, {page})"
        if page != "EXP_AVG"
        else 'it "returns an exponentially-weighted average" (SQL Reference, EXP_AVG) and '
        "an average takes a number-expression (SQL Reference, AVG)"
    )
    return (
        f"KDA for SQL does not support {page} of a year-month interval: {syntax}, and "
        "year-month intervals are values "
        'of date arithmetic only (Data Types, sql-reference-data-types.html: "Day-time '
        'intervals supported, year-month intervals not supported")'
    )


def agg_call(query: PumpQuery, node: exp.Expression, scope: Scope) -> AggCall:
    """One aggregate call (``COUNT(*)``, ``SUM(x)``, ``COUNT(DISTINCT x)`` …) over ``scope``."""
    name = aggregate_name(node)
    assert name is not None
    arg = node.expressions[0] if isinstance(node, exp.Anonymous) else node.this
    if isinstance(node, exp.Anonymous) and len(node.expressions) != 1:
        raise query.error(SqlPlanError, f"{name} takes one argument", node)
    if isinstance(node, exp.Count) and (arg is None or isinstance(arg, exp.Star)):
        count = AGGREGATES["COUNT"]
        return AggCall("COUNT(*)", count, None, None, count.returns(None))
    if isinstance(arg, exp.Distinct):
        arg = _distinct_argument(query, name, node, arg)
        name += DISTINCT_SUFFIX
    spec = AGGREGATES.get(name)
    if spec is None:
        raise query.error(SqlUnsupportedError, f"aggregate {name}", node)
    compiled = compile_expr(arg, scope)
    if is_year_month(compiled.sql_type) and name not in _ORDER_ONLY:
        raise query.error(SqlPlanError, year_month_aggregate(name), node)
    return AggCall(
        f"{name}({arg.sql()})",
        spec,
        compiled.fn,
        compiled.column,
        spec.returns(compiled.sql_type),
    )


#: The aggregates whose page in the SQL Reference has ``DISTINCT`` ("counts only distinct
#: values", "excludes duplicate values in the input set"), and COUNT (see below).
DISTINCT_AGGREGATES = frozenset(
    {"COUNT", "SUM", "AVG", "VAR_POP", "VAR_SAMP", "STDDEV_POP", "STDDEV_SAMP"}
)


def _distinct_argument(
    query: PumpQuery, name: str, node: exp.Expression, distinct: exp.Distinct
) -> exp.Expression:
    """The argument of ``name(DISTINCT x)``; what KDA's pages do not have is refused with the
    page (the message of :data:`pipelines.sql.query_shapes.NOT_KDA`)."""
    if name not in DISTINCT_AGGREGATES:
        raise query.error(
            SqlPlanError,
            f"KDA for SQL does not support {name}(DISTINCT …) (its syntax has no DISTINCT: "
            f"SQL Reference, {name})",
            node,
        )
    if len(distinct.expressions) != 1:
        raise query.error(
            SqlPlanError,
            f"KDA for SQL does not support {name}(DISTINCT …) of several expressions (its "
            f"syntax takes one number-expression: SQL Reference, {name})",
            node,
        )
    return distinct.expressions[0]


def plan_grouped(
    query: PumpQuery,
    stream: StreamInfo,
    scope: Scope,
    key_nodes: list[exp.Expression],
    keys: list[Expr],
    *,
    having: bool,
) -> Grouped:
    """The SELECT list (and, with ``having``, the HAVING clause) of a query grouped by
    ``key_nodes`` (compiled: ``keys``); aggregates are compiled over ``scope``."""
    rewriter = _Rewriter(query, scope, key_nodes)
    rewritten = [rewriter.rewrite(i) for i in query.items(stream)]
    having_node = query.select.args.get("having") if having else None
    having_rewritten = rewriter.rewrite(having_node.this) if having_node is not None else None
    for node in [*rewritten, *([having_rewritten] if having_rewritten is not None else [])]:
        _check_grouped(query, node)
    agg_scope = _aggregate_scope(keys, rewriter.aggs)
    outputs = query.outputs(rewritten, agg_scope)
    having_fn = (
        compile_expr(having_rewritten, agg_scope).fn if having_rewritten is not None else None
    )
    return Grouped(outputs, rewriter.aggs, having_fn)


class _Rewriter:
    """Rewrites expressions over the row ``(ROWTIME, *keys, *aggregates)``, collecting the
    aggregate calls (each distinct call once) as it meets them."""

    def __init__(self, query: PumpQuery, scope: Scope, keys: list[exp.Expression]) -> None:
        self._query = query
        self._scope = scope
        self._key_texts = [canonical(k) for k in keys]
        self._agg_texts: list[str] = []
        self.aggs: list[AggCall] = []

    def rewrite(self, node: exp.Expression) -> exp.Expression:
        return node.transform(self._visit)

    def _visit(self, n: exp.Expression) -> exp.Expression:
        text = canonical(n) if not isinstance(n, exp.Literal | exp.Star) else None
        if text is not None and text in self._key_texts:
            return _placeholder(f"__K{self._key_texts.index(text)}")
        if isinstance(n, exp.Anonymous) and str(n.this).upper() in WINDOW_ONLY_FUNCTIONS:
            raise self._query.error(
                SqlPlanError,
                f"{str(n.this).upper()} is only allowed OVER a sliding window, not in a "
                "GROUP BY or stagger window",
                n,
            )
        if aggregate_name(n) is not None:
            if text not in self._agg_texts:
                self._agg_texts.append(text or "")
                self.aggs.append(agg_call(self._query, n, self._scope))
            return _placeholder(f"__A{self._agg_texts.index(text or '')}")
        if isinstance(n, exp.Column) and identifier_name(n.this) == "ROWTIME":
            return _placeholder("__ROWTIME")
        return n


def _placeholder(name: str) -> exp.Column:
    return exp.Column(this=exp.Identifier(this=name, quoted=True))


def _aggregate_scope(keys: list[Expr], aggs: list[AggCall]) -> Scope:
    scope = Scope()
    scope.specials["__ROWTIME"] = ScopeColumn("__ROWTIME", 0, TIMESTAMP)
    for i, key in enumerate(keys):
        scope.specials[f"__K{i}"] = ScopeColumn(f"__K{i}", 1 + i, key.sql_type)
    for j, agg in enumerate(aggs):
        returns = agg.sql_type
        scope.specials[f"__A{j}"] = ScopeColumn(f"__A{j}", 1 + len(keys) + j, returns)
    return scope


def _check_grouped(query: PumpQuery, rewritten: exp.Expression) -> None:
    for column in rewritten.find_all(exp.Column):
        name = identifier_name(column.this)
        if not name.startswith("__"):
            raise query.error(
                SqlPlanError,
                f"column {name} must appear in GROUP BY or inside an aggregate",
                column,
            )
