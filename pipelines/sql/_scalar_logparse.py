"""The log-parsing functions (private; use :mod:`pipelines.sql.functions`).

Each returns a ROW (sql-reference-pattern-matching-functions.html): a ``tuple`` of field values
whose names and types are in a ROW :class:`~pipelines.sql.types.SqlType`. The row type
depends on the pattern or column list, so those arguments must be constants: a *builder*
takes them at plan time, checks them (a bad pattern is a plan error, a construct Shardline
cannot run is refused), and returns a :class:`RowParser` whose ``parse(text)`` runs per row.
A NULL input gives a NULL row; a field read from a NULL row is NULL.

=========================  ==================================================================
function                   row
=========================  ==================================================================
REGEX_LOG_PARSE            ``COLUMN1`` … ``COLUMNn`` VARCHAR(1024), one per group of a Java
                           regular expression that must match the whole text, else NULL
                           (sql-reference-regex-log-parse.html); an optional third argument
                           ``'name type, …'`` names and types the columns instead
FAST_REGEX_LOG_PARSER      ``COLUMN1`` … ``COLUMNn`` VARCHAR(1024), one per parenthesized
                           expression of a *fast regex* (the automaton syntax of
                           sql-reference-fast-regex-log-parser.html), matched lazily against
                           the whole text, else NULL
FIXED_COLUMN_LOG_PARSE     ``'name TYPE type [format] [NOT NULL] START n [FOR m], …'``: fixed
                           positions from 0, converted to the types
                           (sql-reference-fixed-column-log-parse.html)
VARIABLE_COLUMN_LOG_PARSE  ``n`` (``COLUMN1`` … VARCHAR(1024)) or ``'name TYPE type [NOT
                           NULL], …'``, split at a delimiter string, with an optional escape
                           string and one or two quote characters
                           (sql-reference-variable-column-log-parse.html)
SYS_LOG_PARSE              ``Mon DD HH:MM:SS message``: ``COLUMN1`` TIMESTAMP (the year is
                           1970, as the format has none), ``COLUMN2`` VARCHAR(1024) the rest
                           (sql-reference-sys-log-parse.html)
W3C_LOG_PARSE              one ``COLUMNn`` per format specifier of a predefined format
                           (COMMON, COMMON WITH VHOST, NCSA EXTENDED, REFERER, AGENT) or an
                           Apache ``LogFormat`` string; VARCHAR(1024) except ``%b`` (bytes),
                           BIGINT with ``-`` read as NULL (sql-reference-w3c-log-parse.html)
=========================  ==================================================================

Field conversions: empty text is NULL for every type but CHAR/VARCHAR; numbers and datetimes
are read as input mapping reads them (:func:`~pipelines.sql.types.coerce`), DATE/TIME/TIMESTAMP
with a format as CHAR_TO_TIMESTAMP does; a value that does not convert, or NULL in a NOT NULL
column, is a ``Type_Coercion_Error`` for the row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ground.errors import RowError, SqlPlanError, SqlUnsupportedError
from pipelines.sql._fast_regex import fast_regex_to_python
from pipelines.sql._scalar_format import char_to_timestamp
from pipelines.sql._scalar_text import java_regex_pattern
from pipelines.sql.types import (
    COERCION_ERROR,
    Date,
    SqlType,
    Time,
    TypeKind,
    UnsupportedTypeError,
    coerce,
    parse_type,
)
from pipelines.sql.types.kinds import BIGINT, TIMESTAMP
from pipelines.sql.types.values import MS_PER_DAY

__all__ = [
    "LOG_PARSERS",
    "LogParser",
    "RowParser",
]

FIELD_TEXT = SqlType(TypeKind.VARCHAR, length=1024)

Parse = Callable[[str], "tuple[Any, ...] | None"]


@dataclass(frozen=True, slots=True)
class RowParser:
    """A compiled parser: ``row_type`` (kind ROW) and ``parse(text) -> tuple | None``."""

    row_type: SqlType
    parse: Parse

    def __call__(self, text: Any) -> tuple[Any, ...] | None:
        if text is None:
            return None
        if type(text) is not str:
            raise RowError(COERCION_ERROR, f"a log parser needs a character string, got {text!r}")
        return self.parse(text)


@dataclass(frozen=True, slots=True)
class LogParser:
    """A log-parsing function: the text is argument 1; ``build(constants)`` takes arguments
    2 … n, which must be constants."""

    name: str
    min_args: int
    max_args: int
    build: Callable[[Sequence[Any]], RowParser]


def _row(names: Sequence[str], types: Sequence[SqlType]) -> SqlType:
    return SqlType(TypeKind.ROW, fields=tuple(zip(names, types, strict=True)))


def _numbered(n: int, field_type: SqlType = FIELD_TEXT) -> SqlType:
    return _row([f"COLUMN{i}" for i in range(1, n + 1)], [field_type] * n)


def _text_arg(value: Any, what: str) -> str:
    if type(value) is not str:
        raise SqlPlanError(f"{what} must be a character string constant, got {value!r}")
    return value


# ---------------------------------------------------------------- column descriptions


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    sql_type: SqlType
    not_null: bool = False
    time_format: str | None = None
    start: int | None = None
    length: int | None = None


_DESCRIPTION_TOKEN = re.compile(
    r"""\s*(?:
        (?P<dq>"(?:[^"]|"")*")           # "quoted identifier"
      | (?P<sq>'(?:[^']|'')*')           # 'format'
      | (?P<paren>\([^()]*\))            # (10,2)
      | (?P<comma>,)
      | (?P<word>[^\s,'"()]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"TYPE", "NOT", "NULL", "START", "FOR"}


def _description_tokens(text: str) -> list[list[tuple[str, str]]]:
    """Split a column-description string into columns of (kind, text) tokens."""
    columns: list[list[tuple[str, str]]] = [[]]
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _DESCRIPTION_TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SqlPlanError(f"cannot read the column description at {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind == "comma":
            columns.append([])
        else:
            columns[-1].append((kind, match.group(kind)))
    return columns


def _int_token(tokens: list[tuple[str, str]], i: int, what: str) -> int:
    if i >= len(tokens) or not tokens[i][1].isdigit():
        raise SqlPlanError(f"{what} needs a non-negative integer")
    return int(tokens[i][1])


def _parse_columns(text: str, *, positions: bool) -> list[_Column]:
    """``'name TYPE type ['format'] [NOT NULL] [START n [FOR m]], …'`` (``TYPE`` optional)."""
    columns: list[_Column] = []
    for tokens in _description_tokens(text):
        if not tokens:
            raise SqlPlanError(f"empty column description in {text!r}")
        kind, raw = tokens[0]
        if kind == "dq":
            name = raw[1:-1].replace('""', '"')
        elif kind == "word":
            name = raw.upper()
        else:
            raise SqlPlanError(f"expected a column name, got {raw!r}")
        i = 1
        if i < len(tokens) and tokens[i][1].upper() == "TYPE":
            i += 1
        type_words: list[str] = []
        while i < len(tokens) and tokens[i][0] in ("word", "paren"):
            if tokens[i][0] == "word" and tokens[i][1].upper() in _KEYWORDS:
                break
            type_words.append(tokens[i][1])
            i += 1
        if not type_words:
            raise SqlPlanError(f"column {name} needs a type")
        type_text = " ".join(type_words).replace(" (", "(")
        try:
            sql_type = parse_type(type_text)
        except UnsupportedTypeError as exc:
            raise SqlPlanError(str(exc)) from None
        except ValueError as exc:
            raise SqlPlanError(f"column {name}: {exc}") from None
        column = _Column(name, sql_type)
        not_null, time_format, start, length = False, None, None, None
        while i < len(tokens):
            kind, raw = tokens[i]
            word = raw.upper()
            if kind == "sq":
                if not sql_type.is_temporal:
                    raise SqlPlanError(f"column {name}: a format applies to DATE, TIME, TIMESTAMP")
                time_format = raw[1:-1].replace("''", "'")
                i += 1
            elif word == "NOT" and i + 1 < len(tokens) and tokens[i + 1][1].upper() == "NULL":
                not_null = True
                i += 2
            elif word == "START" and positions:
                start = _int_token(tokens, i + 1, "START")
                i += 2
                if i < len(tokens) and tokens[i][1].upper() == "FOR":
                    length = _int_token(tokens, i + 1, "FOR")
                    i += 2
            else:
                raise SqlPlanError(f"column {name}: unexpected {raw!r}")
        if positions and start is None:
            raise SqlPlanError(f"column {name} needs START <position>")
        columns.append(_Column(column.name, sql_type, not_null, time_format, start, length))
    return columns


def _converter(column: _Column) -> Callable[[str | None], Any]:
    sql_type = column.sql_type
    kind = sql_type.kind
    fmt = column.time_format
    name = column.name

    def convert(text: str | None) -> Any:
        value: Any
        if text is None or (text == "" and not sql_type.is_string):
            value = None
        elif fmt is not None:
            ts = char_to_timestamp(fmt, text)
            if kind is TypeKind.DATE:
                value = Date(ts - ts % MS_PER_DAY)
            elif kind is TypeKind.TIME:
                value = Time(ts % MS_PER_DAY)
            else:
                value = ts
        elif sql_type.is_string:
            value = coerce(text, sql_type)
        else:
            value = coerce(text.strip(), sql_type)
        if value is None and column.not_null:
            raise RowError(COERCION_ERROR, f"column {name} is NOT NULL")
        return value

    return convert


def _row_of(columns: Sequence[_Column]) -> SqlType:
    return _row([c.name for c in columns], [c.sql_type for c in columns])


# ---------------------------------------------------------------- REGEX_LOG_PARSE


def _build_regex(args: Sequence[Any]) -> RowParser:
    pattern = _text_arg(args[0], "REGEX_LOG_PARSE's pattern")
    try:
        regex = java_regex_pattern(pattern)
    except re.error as exc:
        raise SqlPlanError(f"bad regular expression {pattern!r}: {exc}") from None
    groups = regex.groups
    if len(args) > 1 and args[1] is not None:
        columns = _parse_columns(_text_arg(args[1], "REGEX_LOG_PARSE's columns"), positions=False)
        if len(columns) != groups:
            raise SqlPlanError(
                f"REGEX_LOG_PARSE names {len(columns)} columns for {groups} groups in {pattern!r}"
            )
        converters = [_converter(c) for c in columns]
        row_type = _row_of(columns)

        def parse_typed(text: str) -> tuple[Any, ...] | None:
            match = regex.fullmatch(text)
            if match is None:
                return None
            return tuple(f(v) for f, v in zip(converters, match.groups(), strict=True))

        return RowParser(row_type, parse_typed)

    def parse(text: str) -> tuple[Any, ...] | None:
        match = regex.fullmatch(text)
        return None if match is None else match.groups()

    return RowParser(_numbered(groups), parse)


# ---------------------------------------------------------------- FAST_REGEX_LOG_PARSER


def _build_fast_regex(args: Sequence[Any]) -> RowParser:
    pattern = _text_arg(args[0], "FAST_REGEX_LOG_PARSER's pattern")
    python, groups = fast_regex_to_python(pattern)
    regex = re.compile(python, re.DOTALL)

    def parse(text: str) -> tuple[Any, ...] | None:
        match = regex.fullmatch(text)
        return None if match is None else match.groups()

    return RowParser(_numbered(groups), parse)


# ---------------------------------------------------------------- FIXED_COLUMN_LOG_PARSE


def _build_fixed(args: Sequence[Any]) -> RowParser:
    columns = _parse_columns(_text_arg(args[0], "FIXED_COLUMN_LOG_PARSE's columns"), positions=True)
    spans = [
        (c.start or 0, None if c.length is None else (c.start or 0) + c.length) for c in columns
    ]
    converters = [_converter(c) for c in columns]

    def parse(text: str) -> tuple[Any, ...]:
        values: list[Any] = []
        for (start, end), convert in zip(spans, converters, strict=True):
            piece = text[start:end] if start <= len(text) else None
            values.append(convert(piece))
        return tuple(values)

    return RowParser(_row_of(columns), parse)


# ---------------------------------------------------------------- VARIABLE_COLUMN_LOG_PARSE


def split_fields(
    text: str, delimiter: str, escape: str | None, quotes: tuple[str, str] | None
) -> list[str]:
    """Split ``text`` at ``delimiter``; ``escape`` makes the next character literal; text
    between the quote characters is kept whole (the quotes themselves are dropped)."""
    fields: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    quoted = False
    while i < n:
        if escape and text.startswith(escape, i):
            i += len(escape)
            if i < n:
                current.append(text[i])
                i += 1
            continue
        c = text[i]
        if quotes is not None:
            if not quoted and c == quotes[0]:
                quoted = True
                i += 1
                continue
            if quoted and c == quotes[1]:
                quoted = False
                i += 1
                continue
        if not quoted and text.startswith(delimiter, i):
            fields.append("".join(current))
            current = []
            i += len(delimiter)
            continue
        current.append(c)
        i += 1
    fields.append("".join(current))
    return fields


def _build_variable(args: Sequence[Any]) -> RowParser:
    spec, delimiter = args[0], args[1]
    escape = args[2] if len(args) > 2 else None
    quote = args[3] if len(args) > 3 else None
    if type(spec) is int:
        if spec < 1:
            raise SqlPlanError("VARIABLE_COLUMN_LOG_PARSE needs at least one column")
        columns = [_Column(f"COLUMN{i}", FIELD_TEXT) for i in range(1, spec + 1)]
    else:
        columns = _parse_columns(
            _text_arg(spec, "VARIABLE_COLUMN_LOG_PARSE's columns"), positions=False
        )
    delimiter = _text_arg(delimiter, "VARIABLE_COLUMN_LOG_PARSE's delimiter")
    if not delimiter:
        raise SqlPlanError("VARIABLE_COLUMN_LOG_PARSE's delimiter is empty")
    escape_text = None if escape is None else _text_arg(escape, "the escape string") or None
    quotes: tuple[str, str] | None = None
    if quote is not None:
        quote_text = _text_arg(quote, "the quote string")
        if len(quote_text) not in (1, 2):
            raise SqlPlanError("the quote string is one or two characters")
        quotes = (quote_text[0], quote_text[-1])
    converters = [_converter(c) for c in columns]
    width = len(columns)

    def parse(text: str) -> tuple[Any, ...]:
        fields = split_fields(text, delimiter, escape_text, quotes)
        if len(fields) < width:
            fields.extend([None] * (width - len(fields)))  # type: ignore[list-item]
        return tuple(f(v) for f, v in zip(converters, fields[:width], strict=True))

    return RowParser(_row_of(columns), parse)


# ---------------------------------------------------------------- SYS_LOG_PARSE

_SYSLOG = re.compile(r"([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?: (.*))?", re.DOTALL)
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()


def _build_syslog(args: Sequence[Any]) -> RowParser:
    row_type = _row(["COLUMN1", "COLUMN2"], [TIMESTAMP, FIELD_TEXT])

    def parse(text: str) -> tuple[Any, ...] | None:
        match = _SYSLOG.fullmatch(text)
        if match is None:
            return None
        month, day, hour, minute, second, message = match.groups()
        if month.lower() not in _MONTHS:
            return None
        stamp = f"{_MONTHS.index(month.lower()) + 1:02d}-{int(day):02d} {hour}:{minute}:{second}"
        try:
            ts = char_to_timestamp("MM-dd HH:mm:ss", stamp)
        except RowError:
            return None
        return ts, message if message is not None else ""

    return RowParser(row_type, parse)


# ---------------------------------------------------------------- W3C_LOG_PARSE

W3C_FORMATS = {
    "COMMON": '%h %l %u %t "%r" %>s %b',
    "COMMON WITH VHOST": '%v %h %l %u %t "%r" %>s %b',
    "NCSA EXTENDED": '%h %l %u %t "%r" %>s %b "%[Referer]i" "%[User-agent]i"',
    "REFERER": "%[Referer]i ---> %U",
    "AGENT": "%[User-agent]i",
}
#: Apache's ``%`` directives (one letter, after an optional ``<``/``>`` and ``{name}`` or
#: ``[name]`` argument).
_W3C_LETTERS = frozenset("aABbCDefhHiklmnopPqrRsStTuUvVXIO")
_W3C_DIRECTIVE = re.compile(r"%[<>]?(?:\{[^}]*\}|\[[^\]]*\])?([A-Za-z%])")


def _build_w3c(args: Sequence[Any]) -> RowParser:
    fmt = _text_arg(args[0], "W3C_LOG_PARSE's format")
    key = " ".join(fmt.upper().split())
    if key == "IIS":
        raise SqlUnsupportedError("W3C_LOG_PARSE format IIS (its fields are not documented)")
    fmt = W3C_FORMATS.get(key, fmt)
    parts: list[str] = []
    types: list[SqlType] = []
    numeric: list[bool] = []
    position = 0
    for match in _W3C_DIRECTIVE.finditer(fmt):
        literal = fmt[position : match.start()]
        parts.append(re.escape(literal))
        position = match.end()
        letter = match.group(1)
        if letter == "%":
            parts.append("%")
            continue
        if letter not in _W3C_LETTERS:
            raise SqlPlanError(f"unknown W3C format specifier {match.group(0)!r} in {fmt!r}")
        following = fmt[position : position + 1]
        if letter == "t" and "{" not in match.group(0):
            parts.append(r"(\[[^\]]*\])")
        elif literal.endswith('"') and following == '"':
            parts.append(r'((?:[^"\\]|\\.)*)')
        elif following == "":
            parts.append("(.*)")
        else:
            parts.append(r"(\S*)")
        is_bytes = letter == "b"
        types.append(BIGINT if is_bytes else FIELD_TEXT)
        numeric.append(is_bytes)
    if "%" in fmt[position:]:
        raise SqlPlanError(f"bad W3C format {fmt!r}")
    parts.append(re.escape(fmt[position:]))
    if not types:
        raise SqlPlanError(f"W3C format {fmt!r} has no specifiers")
    regex = re.compile("".join(parts), re.DOTALL)
    row_type = _numbered(len(types))
    row_type = SqlType(
        TypeKind.ROW,
        fields=tuple((name, t) for (name, _), t in zip(row_type.fields or (), types, strict=True)),
    )

    def parse(text: str) -> tuple[Any, ...] | None:
        match = regex.fullmatch(text)
        if match is None:
            return None
        values: list[Any] = []
        for value, is_number in zip(match.groups(), numeric, strict=True):
            if is_number:
                values.append(None if value in ("-", "") else coerce(value, BIGINT))
            else:
                values.append(value)
        return tuple(values)

    return RowParser(row_type, parse)


LOG_PARSERS: dict[str, LogParser] = {
    p.name: p
    for p in (
        LogParser("REGEX_LOG_PARSE", 2, 3, _build_regex),
        LogParser("FAST_REGEX_LOG_PARSER", 2, 2, _build_fast_regex),
        LogParser("FAST_REGEX_LOG_PARSE", 2, 2, _build_fast_regex),
        LogParser("FIXED_COLUMN_LOG_PARSE", 2, 2, _build_fixed),
        LogParser("VARIABLE_COLUMN_LOG_PARSE", 3, 5, _build_variable),
        LogParser("SYS_LOG_PARSE", 1, 1, _build_syslog),
        LogParser("W3C_LOG_PARSE", 2, 2, _build_w3c),
    )
}
