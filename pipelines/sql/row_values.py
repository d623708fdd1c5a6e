"""ROW values in expressions: reading a field (``rec.COLUMN1``) and calling a log parser, whose
result is a ROW (see :mod:`pipelines.sql.types` for how a ROW is represented)."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ground.errors import SqlError, SqlPlanError, SqlUnsupportedError
from pipelines.sql.expr import Expr, call
from pipelines.sql.functions import LogParser
from pipelines.sql.nodes import node_position
from pipelines.sql.types import Row, TypeKind

__all__ = ["log_parser_call", "row_field"]


def row_field(node: exp.Expression, row: Expr, name: str) -> Expr:
    """Field ``name`` of a ROW-typed expression (NULL for a NULL row)."""
    line, column = node_position(node)
    row_type = row.sql_type
    if row_type is None or row_type.kind is not TypeKind.ROW:
        shown = str(row_type) if row_type is not None else "a value of unknown type"
        raise SqlPlanError(
            f"{node.sql()}: .{name} reads a field of a ROW (a log parser's result), not of {shown}",
            line=line,
            column=column,
        )
    found = row_type.field(name)
    if found is None:
        fields = ", ".join(n for n, _ in row_type.fields or ())
        raise SqlPlanError(
            f"{row_type} has no field {name}; its fields: {fields}", line=line, column=column
        )
    index, field_type = found
    f = row.fn

    def field(r: Row) -> Any:
        value = f(r)
        return None if value is None else value[index]

    return Expr(field, field_type)


def log_parser_call(node: exp.Expression, parser: LogParser, args: list[Expr]) -> Expr:
    """``REGEX_LOG_PARSE(text, 'pattern' …)`` and the other log parsers, their arguments
    compiled (``args``): a ROW whose type the constant arguments decide (see
    :mod:`pipelines.sql._scalar_logparse`)."""
    line, column = node_position(node)
    if not parser.min_args <= len(args) <= parser.max_args:
        counts = (
            str(parser.min_args)
            if parser.min_args == parser.max_args
            else f"{parser.min_args}–{parser.max_args}"
        )
        raise SqlPlanError(
            f"{parser.name} takes {counts} arguments, got {len(args)}", line=line, column=column
        )
    if not all(a.is_constant for a in args[1:]):
        raise SqlPlanError(
            f"{parser.name}'s arguments after the text must be constants (they decide its columns)",
            line=line,
            column=column,
        )
    try:
        row_parser = parser.build([a.constant for a in args[1:]])
    except SqlError as exc:
        raise type(exc)(
            exc.construct if isinstance(exc, SqlUnsupportedError) else exc.message,
            line=exc.line or line,
            column=exc.column or column,
        ) from None
    return call(row_parser, args[:1], row_parser.row_type)
