"""Planner of ``TOP_K_ITEMS_TUMBLING`` and ``COUNT_DISTINCT_ITEMS_TUMBLING`` over
``CURSOR(SELECT STREAM …)`` in FROM (see :mod:`.topk`)."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamColumn, StreamInfo
from pipelines.sql.compiler import compile_expr
from pipelines.sql.dialect import is_cursor
from pipelines.sql.expr import TIMESTAMP
from pipelines.sql.operators.topk import ItemsTumblingOperator
from pipelines.sql.operators.two_phase import ItemsFinal, ItemsPartial
from pipelines.sql.planning import Grouping, PlannedPump, PumpQuery, TwoPhase
from pipelines.sql.scope import Scope
from pipelines.sql.sketches import COUNT_DISTINCT_COLUMNS, TOP_K_COLUMNS, TOP_K_MAX
from pipelines.sql.sources import resolve_source
from pipelines.sql.types import SqlType, TypeKind

__all__ = ["ItemsTumblingPlanner"]

TOP_K = "TOP_K_ITEMS_TUMBLING"
COUNT_DISTINCT = "COUNT_DISTINCT_ITEMS_TUMBLING"
#: KDA's limit on ``windowSeconds``.
MAX_WINDOW_SECONDS = 3600


class ItemsTumblingPlanner:
    def matches(self, query: PumpQuery) -> bool:
        from_ = query.select.args.get("from_")
        return (
            from_ is not None
            and isinstance(from_.this, exp.Table)
            and isinstance(from_.this.this, exp.Anonymous)
        )

    def plan(self, query: PumpQuery) -> PlannedPump:
        select = query.select
        call = select.args["from_"].this.this
        outer = str(call.this).upper()
        if outer == "TABLE" and call.expressions and isinstance(call.expressions[0], exp.Anonymous):
            call = call.expressions[0]
        name = str(call.this).upper()
        if name not in (TOP_K, COUNT_DISTINCT):
            raise query.error(SqlPlanError, f"unknown table function {name}", call)
        args = list(call.expressions)
        if not args or not is_cursor(args[0]):
            raise query.error(SqlPlanError, f"{name} takes CURSOR(SELECT STREAM …) first", call)
        cursor_select = args[0].expressions[0]
        source = resolve_source(query, cursor_select)
        if source.join is not None:
            raise query.error(SqlUnsupportedError, f"a JOIN inside {name}'s CURSOR", call)
        scope = source.scope
        where = query.where(scope, cursor_select)
        constants = [compile_expr(a, scope) for a in args[1:]]
        if not all(c.is_constant for c in constants):
            raise query.error(
                SqlPlanError, f"{name}'s arguments after the cursor are constants", call
            )
        values = [c.constant for c in constants]
        if name == TOP_K:
            if len(values) != 3:
                raise query.error(
                    SqlPlanError, "TOP_K_ITEMS_TUMBLING(cursor, 'column', k, windowSeconds)", call
                )
            column, k, seconds = values
            if not 1 <= int(k) <= TOP_K_MAX:
                raise query.error(SqlPlanError, "K must be 1–100000", call)
        else:
            if len(values) != 2:
                raise query.error(
                    SqlPlanError,
                    "COUNT_DISTINCT_ITEMS_TUMBLING(cursor, 'column', windowSeconds)",
                    call,
                )
            column, seconds = values
            k = 0
        if not 1 <= int(seconds) <= MAX_WINDOW_SECONDS:
            raise query.error(SqlPlanError, "windowSeconds must be 1–3600", call)
        item = compile_expr(exp.Column(this=exp.Identifier(this=str(column), quoted=True)), scope)
        out_names = TOP_K_COLUMNS if name == TOP_K else COUNT_DISTINCT_COLUMNS
        result_scope = Scope()
        pseudo = StreamInfo(
            "__ITEMS", tuple(StreamColumn(n, SqlType(TypeKind.VARCHAR)) for n in out_names)
        )
        for qualifier in ("", pseudo.name):
            result_scope.add("ROWTIME", 0, TIMESTAMP, qualifier)
            for i, out_name in enumerate(out_names):
                result_scope.add(
                    out_name,
                    1 + i,
                    item.sql_type if i == 0 and k else SqlType(TypeKind.BIGINT),
                    qualifier,
                )
        outputs = query.outputs(query.items(pseudo), result_scope)
        having = query.where(result_scope)
        pump, app, target = query.name, query.application, query.target.name
        size = int(seconds) * 1000
        details = [
            f"{name}: tumbling {size} ms on ROWTIME over column {column}"
            + (f", K={k}" if k else ""),
            "state: one sketch per open window per partition (changelog)",
        ]

        def build(kind: type[ItemsTumblingOperator] = ItemsTumblingOperator) -> Any:
            return kind(
                pump=pump,
                application=app,
                stream=target,
                item=item.fn,
                where=where,
                size=size,
                k=int(k),
                select=outputs,
                having=having,
            )

        return query.pump(
            name.lower(),
            source.stream.name,
            details,
            build,
            grouping=(Grouping((), ()),),
            two_phase=TwoPhase(lambda: build(ItemsPartial), lambda: build(ItemsFinal), size, False),
        )
