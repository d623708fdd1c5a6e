"""String expressions with their own syntax: LIKE, SIMILAR TO, ESCAPE, ||, SUBSTRING,
POSITION, TRIM, OVERLAY.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp

from ground.errors import SqlUnsupportedError
from pipelines.sql import functions as fn
from pipelines.sql.compiler.dispatch import NodeCompiler, compile_expr
from pipelines.sql.expr import BOOLEAN, INTEGER, VARCHAR, Expr, call, constant
from pipelines.sql.nodes import node_position
from pipelines.sql.scope import Scope

__all__ = ["NODES"]


def _pattern_match(match: Callable[..., Any]) -> NodeCompiler:
    """``… LIKE p`` or ``… SIMILAR TO p``, with the escape character sqlglot may attach."""

    def compile_match(node: exp.Expression, scope: Scope) -> Expr:
        args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
        escape = node.args.get("escape")
        if escape is not None:
            args.append(compile_expr(escape, scope))
        return call(match, args, BOOLEAN)

    return compile_match


def _escape(node: exp.Expression, scope: Scope) -> Expr:
    """``… LIKE p ESCAPE e`` and ``… SIMILAR TO p ESCAPE e``."""
    inner = node.this
    if not isinstance(inner, exp.Like | exp.SimilarTo):
        line, column = node_position(node)
        raise SqlUnsupportedError(f"ESCAPE after {inner.sql()}", line=line, column=column)
    args = [
        compile_expr(inner.this, scope),
        compile_expr(inner.expression, scope),
        compile_expr(node.expression, scope),
    ]
    return call(fn.like if isinstance(inner, exp.Like) else fn.similar_to, args, BOOLEAN)


def _dpipe(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
    return call(fn.concat, args, VARCHAR)


def _substring(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.args["start"], scope)]
    start_type = args[1].sql_type
    if start_type is not None and start_type.is_string:
        # SUBSTRING(s FROM 'regex'): the first match (sql-reference-substring.html)
        if node.args.get("length") is not None:
            line, column = node_position(node)
            raise SqlUnsupportedError(
                "SUBSTRING(… FROM <regex> FOR …) (use SUBSTRING(… SIMILAR … ESCAPE …))",
                line=line,
                column=column,
            )
        return call(fn.substring_regex, args, VARCHAR)
    if node.args.get("length") is not None:
        args.append(compile_expr(node.args["length"], scope))
    return call(fn.substring, args, VARCHAR)


def _position(node: exp.Expression, scope: Scope) -> Expr:
    needle = compile_expr(node.args["substr"], scope)
    haystack = compile_expr(node.this, scope)
    return call(fn.position, [needle, haystack], INTEGER)


def _trim(node: exp.Expression, scope: Scope) -> Expr:
    where = str(node.args.get("position") or "BOTH").upper()
    chars_node = node.args.get("expression")
    value = compile_expr(node.this, scope)
    chars = compile_expr(chars_node, scope) if chars_node is not None else constant(" ", VARCHAR)
    return call(lambda s, c: fn.trim(s, where, c), [value, chars], VARCHAR)


def _overlay(node: exp.Expression, scope: Scope) -> Expr:
    args = [
        compile_expr(node.this, scope),
        compile_expr(node.expression, scope),
        compile_expr(node.args["from_"], scope),
    ]
    if node.args.get("for_") is not None:
        args.append(compile_expr(node.args["for_"], scope))
    return call(fn.overlay, args, VARCHAR)


#: The node kinds this module compiles.
NODES: dict[type, NodeCompiler] = {
    exp.Like: _pattern_match(fn.like),
    exp.SimilarTo: _pattern_match(fn.similar_to),
    exp.Escape: _escape,
    exp.DPipe: _dpipe,
    exp.Substring: _substring,
    exp.StrPosition: _position,
    exp.Trim: _trim,
    exp.Overlay: _overlay,
}
