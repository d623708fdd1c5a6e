"""KDA's streaming SQL dialect as a sqlglot dialect.

sqlglot does the tokenizing and the expression grammar; this module adds what KDA (SQLstream)
has and ANSI SQL lacks:

- ``CREATE [OR REPLACE] STREAM name (col TYPE [NOT NULL] [DESCRIPTION 'text'], …)
  [DESCRIPTION 'text']`` → ``Create(kind='STREAM', this=Schema)``; ``NOT NULL`` is a
  ``NotNullColumnConstraint`` of the ``ColumnDef``, a column's description a
  ``CommentColumnConstraint``, the stream's is read and dropped; ``INTERVAL DAY(2) TO SECOND(3)``
  column types drop their precisions
- ``CREATE [OR REPLACE] PUMP name AS INSERT INTO stream [(cols)] SELECT STREAM …`` →
  ``Create(kind='PUMP', this=Table, expression=Insert)``
- ``SELECT STREAM …`` → a ``Select`` with ``stream=True``
- ``STEP(x BY INTERVAL 'n' unit)`` and ``STEP(int BY int)`` → ``Anonymous('STEP', [x, by])``
- ``CURSOR(SELECT STREAM …)`` → ``Anonymous('CURSOR', [select])``
- ``SUBSTRING(s SIMILAR pattern ESCAPE e)`` → ``Anonymous('SUBSTRING_SIMILAR', [s, pattern, e])``
- ``NTH_VALUE(x, n) FROM FIRST | FROM LAST …`` → ``NthValue(from_first=True | False)``
- ``CEILING(ts TO unit)`` like ``CEIL(ts TO unit)`` (sqlglot knows only the CEIL spelling)

(sqlglot's expression classes are compiled; subclasses of them do not work, so the KDA forms
are expressed with sqlglot's own node types.)
- ``WINDOWED BY STAGGER (PARTITION BY … RANGE INTERVAL …)`` → ``stagger`` on the ``Select``
- ``JOIN s OVER (RANGE INTERVAL … PRECEDING) AS t`` → ``over`` on the joined ``Table``
- ``ORDER BY t WITHIN INTERVAL … [, keys]`` (a T-sort) → ``within`` on the ``Order``

:func:`parse_statements` splits the code into statements and parses each one, so every
statement (and every error) knows its line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.parser import Parser
from sqlglot.tokens import Token, Tokenizer, TokenType

from ground.errors import SqlSyntaxError

__all__ = [
    "KdaDialect",
    "Statement",
    "is_cursor",
    "is_step",
    "parse_expression",
    "parse_statements",
]


def is_step(node: exp.Expression) -> bool:
    """``STEP(this BY by)`` is an ``Anonymous`` call named STEP with two arguments."""
    return isinstance(node, exp.Anonymous) and str(node.this).upper() == "STEP"


def is_cursor(node: exp.Expression) -> bool:
    """``CURSOR(SELECT STREAM …)`` is an ``Anonymous`` call named CURSOR with one query."""
    return isinstance(node, exp.Anonymous) and str(node.this).upper() == "CURSOR"


class _KdaTokenizer(Tokenizer):
    QUOTES: ClassVar[list[str | tuple[str, str]]] = ["'"]
    IDENTIFIERS: ClassVar[list[str | tuple[str, str]]] = ['"']
    KEYWORDS: ClassVar[dict[str, TokenType]] = {
        **Tokenizer.KEYWORDS,
    }


class _KdaParser(Parser):
    FUNCTION_PARSERS: ClassVar[dict[str, Any]] = {
        **Parser.FUNCTION_PARSERS,
        "STEP": lambda self: self._parse_step(),
        "CURSOR": lambda self: self._parse_cursor(),
        "SUBSTRING": lambda self: self._parse_substring_kda(),
        "CEILING": lambda self: self._parse_ceil_floor(exp.Ceil),
    }

    # -- statements ---------------------------------------------------------------------------
    def _parse_create(self) -> Any:
        index = self._index
        replace = bool(self._match_pair(TokenType.OR, TokenType.REPLACE))
        word = self._curr.text.upper() if self._curr else ""
        if word == "STREAM":
            self._advance()
            name = self._parse_object_name()
            self._match_l_paren()
            columns = self._parse_csv(self._parse_column_def_kda)
            self._match_r_paren()
            schema = exp.Schema(this=name, expressions=columns)
            self._parse_description()  # the stream's DESCRIPTION: documentation only
            return self.expression(exp.Create(this=schema, kind="STREAM", replace=replace))
        if word == "PUMP":
            self._advance()
            name = self._parse_object_name()
            if not self._match(TokenType.ALIAS):
                self.raise_error("expected AS after the pump name")
            if not self._match(TokenType.INSERT):
                self.raise_error("a pump is AS INSERT INTO <stream> SELECT STREAM …")
            insert = self._parse_insert()
            return self.expression(
                exp.Create(this=name, kind="PUMP", expression=insert, replace=replace)
            )
        self._retreat(index)
        return super()._parse_create()

    def _parse_object_name(self) -> exp.Expression:
        name = self._parse_id_var(any_token=False)
        if name is None:
            self.raise_error("expected a name")
        return self.expression(exp.Table(this=name))

    def _parse_column_def_kda(self) -> exp.Expression | None:
        name = self._parse_id_var()
        if name is None:
            self.raise_error("expected a column name")
        kind = self._parse_interval_type() or self._parse_types()
        if kind is None:
            self.raise_error("expected a column type")
        column = exp.ColumnDef(this=name, kind=kind)
        while True:
            if self._match_pair(TokenType.NOT, TokenType.NULL):
                column.append(
                    "constraints", exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())
                )
            elif self._match(TokenType.NULL):
                continue
            else:
                description = self._parse_description()
                if description is None:
                    break
                column.append(
                    "constraints",
                    exp.ColumnConstraint(kind=exp.CommentColumnConstraint(this=description)),
                )
        return self.expression(column)

    def _parse_description(self) -> exp.Expression | None:
        if self._curr is None or self._curr.text.upper() != "DESCRIPTION":
            return None
        self._advance()
        text = self._parse_string()
        if text is None:
            self.raise_error("DESCRIPTION takes a string literal")
        return cast(exp.Expression, text)

    _INTERVAL_FIELDS: ClassVar[tuple[str, ...]] = (
        "YEAR",
        "MONTH",
        "DAY",
        "HOUR",
        "MINUTE",
        "SECOND",
    )

    def _parse_interval_field(self) -> str | None:
        if self._curr is None or self._curr.text.upper() not in self._INTERVAL_FIELDS:
            return None
        field = self._curr.text.upper()
        self._advance()
        if self._match(TokenType.L_PAREN):  # a precision: DAY(2), SECOND(3), SECOND(2, 3)
            while self._curr is not None and not self._match(TokenType.R_PAREN):
                self._advance()
        return field

    def _parse_interval_type(self) -> exp.Expression | None:
        """``INTERVAL <field>[(p)] [TO <field>[(p)]]`` as sqlglot's interval DataType."""
        if self._curr is None or self._curr.token_type != TokenType.INTERVAL:
            return None
        index = self._index
        self._advance()
        first = self._parse_interval_field()
        if first is None:
            self._retreat(index)
            return None
        unit: exp.Expression = exp.Var(this=first)
        if self._match_text_seq("TO"):
            last = self._parse_interval_field()
            if last is None:
                self.raise_error("expected an interval field after TO")
            unit = exp.IntervalSpan(this=exp.Var(this=first), expression=exp.Var(this=last))
        return exp.DataType(this=exp.Interval(unit=unit))

    # -- functions ----------------------------------------------------------------------------
    def _parse_step(self) -> exp.Expression:
        this = self._parse_bitwise()
        if not self._match_text_seq("BY"):
            self.raise_error("STEP takes (<value> BY <interval or integer>)")
        by = self._parse_bitwise()
        return self.expression(exp.Anonymous(this="STEP", expressions=[this, by]))

    def _parse_substring_kda(self) -> exp.Expression:
        """``SUBSTRING(s SIMILAR pattern ESCAPE e)`` besides sqlglot's FROM/FOR and comma forms."""
        index = self._index
        source = self._parse_bitwise()
        if self._curr is not None and self._curr.text.upper() == "SIMILAR":
            self._advance()
            pattern = self._parse_bitwise()
            if not self._match(TokenType.ESCAPE):
                self.raise_error("SUBSTRING … SIMILAR needs ESCAPE <character>")
            escape = self._parse_bitwise()
            return self.expression(
                exp.Anonymous(this="SUBSTRING_SIMILAR", expressions=[source, pattern, escape])
            )
        self._retreat(index)
        return self._parse_substring()

    def _parse_window(self, this: Any, alias: bool = False) -> Any:
        """``NTH_VALUE(x, n) FROM FIRST | FROM LAST`` before the null treatment and OVER; a
        window knows where its OVER is."""
        if isinstance(this, exp.NthValue) and self._match(TokenType.FROM):
            if self._match_text_seq("FIRST"):
                this.set("from_first", True)
            elif self._match_text_seq("LAST"):
                this.set("from_first", False)
            else:
                self.raise_error("NTH_VALUE takes FROM FIRST or FROM LAST")
        start = self._curr
        return self._placed(start, super()._parse_window(this, alias), this)

    def _parse_cursor(self) -> exp.Expression:
        query = self._parse_select()
        if query is None:
            self.raise_error("CURSOR takes (SELECT STREAM …)")
        return self.expression(exp.Anonymous(this="CURSOR", expressions=[query]))

    # -- where clauses start (keywords are not nodes: errors point at them through this) ---
    def _placed(self, start: Token | None, node: Any, given: Any = None) -> Any:
        """``node``, parsed from ``start`` on, knowing that place (unless it is ``given``
        back unchanged, or knows its place already)."""
        if (
            start is not None
            and isinstance(node, exp.Expression)
            and node is not given
            and "line" not in node.meta
        ):
            node.meta.update(line=start.line, col=start.col, start=start.start, end=start.end)
        return node

    def _parse_join(self, *args: Any, **kwargs: Any) -> Any:
        start = self._curr
        return self._placed(start, super()._parse_join(*args, **kwargs))

    def parse_set_operation(self, this: Any, *args: Any, **kwargs: Any) -> Any:
        start = self._curr
        return self._placed(start, super().parse_set_operation(this, *args, **kwargs), this)

    def _parse_limit(self, this: Any = None, *args: Any, **kwargs: Any) -> Any:
        start = self._curr
        return self._placed(start, super()._parse_limit(this, *args, **kwargs), this)

    def _parse_with(self, *args: Any, **kwargs: Any) -> Any:
        start = self._curr
        return self._placed(start, super()._parse_with(*args, **kwargs))

    def _parse_group(self, *args: Any, **kwargs: Any) -> Any:
        start = self._curr
        return self._placed(start, super()._parse_group(*args, **kwargs))

    def _parse_having(self, *args: Any, **kwargs: Any) -> Any:
        start = self._curr
        return self._placed(start, super()._parse_having(*args, **kwargs))

    def _parse_interval(self, *args: Any, **kwargs: Any) -> Any:
        start = self._curr
        return self._placed(start, super()._parse_interval(*args, **kwargs))

    def _parse_exists(self, *args: Any, **kwargs: Any) -> Any:
        start = self._prev  # the EXISTS keyword was matched already
        return self._placed(start, super()._parse_exists(*args, **kwargs))

    # -- ORDER BY t WITHIN INTERVAL … (KDA's T-sort) -------------------------------------
    def _parse_order(self, this: Any = None, skip_order_token: bool = False) -> Any:
        start = self._curr
        order = self._placed(start, super()._parse_order(this, skip_order_token), this)
        if (
            isinstance(order, exp.Order)
            and self._curr is not None
            and self._curr.text.upper() == "WITHIN"
        ):
            self._advance()
            order.set("within", self._parse_bitwise())
            if self._match(TokenType.COMMA):  # ORDER BY t WITHIN INTERVAL …, more keys
                more = self._parse_csv(self._parse_ordered)
                order.set("expressions", [*order.expressions, *more])
        return order

    # -- FROM s WINDOWED BY …, JOIN s OVER (…) AS t ----------------------------------------
    def _parse_table_alias(self, alias_tokens: Any = None) -> Any:
        if self._curr is not None and self._curr.text.upper() == "WINDOWED":
            return None
        if self._curr is not None and self._curr.token_type == TokenType.OVER:
            self._pending_over = self._parse_window(exp.Var(this="JOIN"))
        return super()._parse_table_alias(alias_tokens)

    def _parse_table(self, *args: Any, **kwargs: Any) -> Any:
        self._pending_over = None
        table = super()._parse_table(*args, **kwargs)
        over = getattr(self, "_pending_over", None)
        if over is not None and table is not None:
            table.set("over", over)
        self._pending_over = None
        return table

    def _parse_query_modifiers(self, this: Any) -> Any:
        this = super()._parse_query_modifiers(this)
        if (
            isinstance(this, exp.Select)
            and self._curr is not None
            and self._curr.text.upper() == "WINDOWED"
        ):
            self._advance()
            if not self._match_text_seq("BY", "STAGGER"):
                self.raise_error("expected WINDOWED BY STAGGER (PARTITION BY … RANGE INTERVAL …)")
            self._match_l_paren()
            if not (self._match(TokenType.PARTITION_BY) or self._match_text_seq("PARTITION", "BY")):
                self.raise_error("STAGGER needs PARTITION BY")
            keys = self._parse_csv(self._parse_bitwise)
            if not self._match(TokenType.RANGE):
                self.raise_error("STAGGER needs RANGE INTERVAL …")
            length = self._parse_bitwise()
            self._match_r_paren()
            this.set("stagger", exp.Tuple(expressions=[exp.Tuple(expressions=keys), length]))
            this = super()._parse_query_modifiers(this)
        return this


class KdaDialect(Dialect):
    """Unquoted identifiers are case-insensitive (upper-cased); quoted ones keep their case."""

    NORMALIZATION_STRATEGY = Dialect.NORMALIZATION_STRATEGY.UPPERCASE
    tokenizer_class = _KdaTokenizer
    parser_class = _KdaParser  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of an application, with where it starts (1-based)."""

    tree: exp.Expression
    line: int
    column: int
    text: str


_DIALECT = KdaDialect()


def _tokenize(code: str) -> list[Token]:
    try:
        return _DIALECT.tokenize(code)
    except TokenError as exc:
        raise SqlSyntaxError(str(exc)) from None


def _raise_parse_error(exc: ParseError, first: Token) -> None:
    detail = exc.errors[0] if exc.errors else {}
    line = int(detail.get("line") or first.line)
    column = int(detail.get("col") or first.col)
    message = str(detail.get("description") or exc).split("\n")[0]
    message = re.sub(r"<Token token_type: TokenType\.(\w+)[^>]*>", r"\1", message)
    highlight = detail.get("highlight")
    if highlight:
        message = f"{message} (near {highlight!r})"
    raise SqlSyntaxError(message, line=line, column=column) from None


def parse_statements(code: str) -> list[Statement]:
    """Split ``code`` at top-level semicolons and parse each statement.

    Raises :class:`~ground.errors.SqlSyntaxError` with the line and column of the first
    error.
    """
    tokens = _tokenize(code)
    statements: list[Statement] = []
    chunk: list[Token] = []
    depth = 0
    for token in [*tokens, None]:
        if token is not None:
            if token.token_type == TokenType.L_PAREN:
                depth += 1
            elif token.token_type == TokenType.R_PAREN:
                depth -= 1
        if token is None or (token.token_type == TokenType.SEMICOLON and depth <= 0):
            if chunk:
                statements.append(_parse_chunk(code, chunk))
            chunk = []
            depth = 0
            continue
        chunk.append(token)
    return statements


_STREAM_MARK = "\x00kda:select-stream"


def _mark_select_stream(tokens: list[Token]) -> list[Token]:
    """Drop the ``STREAM`` of ``SELECT STREAM``, leaving a marker comment on the ``SELECT``
    token; sqlglot carries a SELECT token's comments to its ``Select`` node."""
    out: list[Token] = []
    for token in tokens:
        if (
            out
            and out[-1].token_type == TokenType.SELECT
            and token.token_type == TokenType.VAR
            and token.text.upper() == "STREAM"
        ):
            out[-1].comments = [*out[-1].comments, _STREAM_MARK]
            continue
        out.append(token)
    return out


def _unmark(tree: exp.Expression) -> None:
    for select in tree.find_all(exp.Select):
        comments = select.comments or []
        if _STREAM_MARK in comments:
            select.set("stream", True)
            select.comments = [c for c in comments if c != _STREAM_MARK] or None


def _parse_chunk(code: str, chunk: list[Token]) -> Statement:
    first = chunk[0]
    parser = _DIALECT.parser(error_level=None)
    try:
        trees = parser.parse(_mark_select_stream(chunk), code)
    except ParseError as exc:
        _raise_parse_error(exc, first)
        raise  # pragma: no cover - _raise_parse_error always raises
    except TokenError as exc:  # the parser tokenizes some parts again (e.g. a JSON path)
        raise SqlSyntaxError(str(exc), line=first.line, column=first.col) from None
    tree = cast(exp.Expression | None, trees[0] if trees else None)
    if tree is None or isinstance(tree, exp.Command):
        raise SqlSyntaxError(
            f"cannot parse statement starting with {first.text!r}",
            line=first.line,
            column=first.col,
        )
    _unmark(tree)
    text = code[first.start : chunk[-1].end + 1]
    start_column = first.col - len(first.text) + 1 if first.col >= len(first.text) else first.col
    return Statement(
        tree=tree,
        line=first.line,
        column=start_column,
        text=text,
    )


def parse_expression(text: str) -> exp.Expression:
    """Parse one scalar expression in the dialect (tests, tools)."""
    tokens = _tokenize(text)
    if not tokens:
        raise SqlSyntaxError("empty expression")
    parser = _DIALECT.parser(error_level=None)
    try:
        tree = cast(
            exp.Expression | None,
            parser.parse_into(exp.Condition, _mark_select_stream(tokens), text)[0],
        )
    except ParseError as exc:
        _raise_parse_error(exc, tokens[0])
        raise  # pragma: no cover
    except TokenError as exc:
        raise SqlSyntaxError(str(exc), line=tokens[0].line, column=tokens[0].col) from None
    if tree is None:
        raise SqlSyntaxError("empty expression")
    _unmark(tree)
    return tree
