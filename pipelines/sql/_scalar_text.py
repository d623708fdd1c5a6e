"""String functions and pattern matching (private; use :mod:`pipelines.sql.functions`).

Positions are 1-based and count characters (code points), as in SQL.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ground.errors import RowError
from pipelines.sql._scalar_cast import to_text
from pipelines.sql._scalar_numeric import INVALID_ARGUMENT
from pipelines.sql.types import COERCION_ERROR


def _str(value: Any, name: str) -> str:
    if type(value) is not str:
        raise RowError(COERCION_ERROR, f"{name} needs a character string, got {value!r}")
    return value


def _int(value: Any, name: str) -> int:
    if type(value) is not int:
        raise RowError(COERCION_ERROR, f"{name} needs an integer, got {value!r}")
    return value


def upper(s: Any) -> Any:
    return None if s is None else _str(s, "UPPER").upper()


def lower(s: Any) -> Any:
    return None if s is None else _str(s, "LOWER").lower()


def initcap(s: Any) -> Any:
    """First character of each space-delimited word upper-cased, the rest lower-cased
    (sql-reference-initcap.html)."""
    if s is None:
        return None
    out = []
    start = True
    for ch in _str(s, "INITCAP"):
        out.append(ch.upper() if start else ch.lower())
        start = ch == " "
    return "".join(out)


def char_length(s: Any) -> Any:
    return None if s is None else len(_str(s, "CHAR_LENGTH"))


def substring(s: Any, start: Any, length: Any = None) -> Any:
    """``SUBSTRING(s FROM start [FOR length])``.

    A start below 1 counts as 1 with the length shortened by ``1 − start``; a start past the end
    or a length of 0 gives ``''`` (sql-reference-substring.html, whose examples show the empty
    string); a negative length is an ``Invalid_Argument`` error, as in the SQL standard.
    """
    if s is None or start is None:
        return None
    text = _str(s, "SUBSTRING")
    first = _int(start, "SUBSTRING")
    if length is None:
        return text[max(first, 1) - 1 :]
    count = _int(length, "SUBSTRING")
    if count < 0:
        raise RowError(INVALID_ARGUMENT, f"SUBSTRING length {count} is negative")
    end = first + count  # exclusive, 1-based
    if end <= 1:
        return ""
    return text[max(first, 1) - 1 : end - 1]


def position(needle: Any, haystack: Any) -> Any:
    """``POSITION(needle IN haystack)``: 1-based index of the first match, 0 when absent, 1 for
    an empty needle."""
    if needle is None or haystack is None:
        return None
    return _str(haystack, "POSITION").find(_str(needle, "POSITION")) + 1


def trim(s: Any, where: str = "BOTH", chars: Any = " ") -> Any:
    """``TRIM([BOTH|LEADING|TRAILING] [chars] FROM s)``; ``chars`` must be one character, as
    the SQL standard requires."""
    if s is None or chars is None:
        return None
    text = _str(s, "TRIM")
    if type(chars) is not str or len(chars) != 1:
        raise RowError(INVALID_ARGUMENT, f"TRIM character must be a single character: {chars!r}")
    side = where.upper()
    if side == "BOTH":
        return text.strip(chars)
    if side == "LEADING":
        return text.lstrip(chars)
    if side == "TRAILING":
        return text.rstrip(chars)
    raise RowError(INVALID_ARGUMENT, f"TRIM takes BOTH, LEADING or TRAILING, not {where!r}")


def overlay(s: Any, replacement: Any, start: Any, length: Any = None) -> Any:
    """``OVERLAY(s PLACING replacement FROM start [FOR length])``, defined as in SQL:
    ``SUBSTRING(s FROM 1 FOR start − 1) || replacement || SUBSTRING(s FROM start + length)``
    with ``length`` defaulting to ``CHAR_LENGTH(replacement)``."""
    if s is None or replacement is None or start is None:
        return None
    text = _str(s, "OVERLAY")
    rep = _str(replacement, "OVERLAY")
    first = _int(start, "OVERLAY")
    count = len(rep) if length is None else _int(length, "OVERLAY")
    head = substring(text, 1, max(first - 1, 0))
    return head + rep + substring(text, first + count)


def concat(a: Any, b: Any) -> Any:
    """``a || b``."""
    if a is None or b is None:
        return None
    if type(a) is not str or type(b) is not str:
        return to_text(a) + to_text(b)
    return a + b


# ---------------------------------------------------------------- LIKE / SIMILAR TO


@lru_cache(maxsize=1024)
def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    if escape is not None and len(escape) != 1:
        raise RowError(INVALID_ARGUMENT, f"LIKE escape must be one character: {escape!r}")
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if escape is not None and c == escape:
            if i + 1 >= n or pattern[i + 1] not in ("%", "_", escape):
                raise RowError(INVALID_ARGUMENT, f"invalid escape sequence in {pattern!r}")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def like(s: Any, pattern: Any, escape: Any = None) -> bool | None:
    """``s LIKE pattern [ESCAPE escape]``: ``%`` any run, ``_`` one character."""
    if s is None or pattern is None:
        return None
    return _like_regex(_str(pattern, "LIKE"), escape).fullmatch(_str(s, "LIKE")) is not None


_SIMILAR_KEEP = set("|*+?{}()[]")


def _similar_body(pattern: str, escape: str | None, lazy: bool = False) -> str:
    """A SIMILAR TO pattern as Python regex text; ``lazy`` makes every repetition
    reluctant (the first part of ``SUBSTRING … SIMILAR`` matches as little as it can)."""
    out: list[str] = []
    suffix = "?" if lazy else ""
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if escape is not None and c == escape:
            if i + 1 >= n:
                raise RowError(INVALID_ARGUMENT, f"invalid escape sequence in {pattern!r}")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "[":  # a character class: ranges and a leading ^ stay, the rest is literal
            end = pattern.find("]", i + 2)
            if end < 0:
                raise RowError(INVALID_ARGUMENT, f"unclosed [ in {pattern!r}")
            body = pattern[i + 1 : end]
            kept = [
                ch if ch == "-" or (ch == "^" and k == 0) else re.escape(ch)
                for k, ch in enumerate(body)
            ]
            out.append("[" + "".join(kept) + "]")
            i = end + 1
            continue
        if c == "%":
            out.append(".*" + suffix)
        elif c == "_":
            out.append(".")
        elif c in "*+?" or c == "}":
            out.append(c + suffix)
        elif c in _SIMILAR_KEEP or c in "-^" and out and out[-1].startswith("["):
            out.append(c)
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def _similar_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    try:
        return re.compile(_similar_body(pattern, escape), re.DOTALL)
    except re.error as exc:
        raise RowError(INVALID_ARGUMENT, f"bad SIMILAR TO pattern {pattern!r}: {exc}") from None


def similar_to(s: Any, pattern: Any, escape: Any = None) -> bool | None:
    """``s SIMILAR TO pattern``: LIKE wildcards plus ``| * + ? {m,n} ( ) [ ]``."""
    if s is None or pattern is None:
        return None
    return (
        _similar_regex(_str(pattern, "SIMILAR TO"), escape).fullmatch(_str(s, "SIMILAR TO"))
        is not None
    )


# ---------------------------------------------------------------- REGEX_REPLACE

_NAMED_GROUP = re.compile(r"\(\?<([A-Za-z][A-Za-z0-9]*)>")


@lru_cache(maxsize=512)
def java_regex_pattern(pattern: str) -> re.Pattern[str]:
    """A ``java.util.regex`` pattern compiled by Python's ``re`` (named groups ``(?<name>…)``
    become ``(?P<name>…)``); raises ``re.error`` when it does not compile."""
    return re.compile(_NAMED_GROUP.sub(r"(?P<\1>", pattern))


def _java_regex(pattern: str) -> re.Pattern[str]:
    try:
        return java_regex_pattern(pattern)
    except re.error as exc:
        raise RowError(INVALID_ARGUMENT, f"bad regular expression {pattern!r}: {exc}") from None


_Part = tuple[bool, "str | int"]  # (is a group reference, literal text or group)


@lru_cache(maxsize=512)
def _java_replacement(replacement: str, groups: int, names: frozenset[str]) -> tuple[_Part, ...]:
    """Parse a ``java.util.regex.Matcher`` replacement: ``$n``/``${name}`` are groups,
    backslash quotes the next character."""
    parts: list[_Part] = []
    literal: list[str] = []

    def group(ref: str | int) -> None:
        if literal:
            parts.append((False, "".join(literal)))
            literal.clear()
        parts.append((True, ref))

    i, n = 0, len(replacement)
    while i < n:
        c = replacement[i]
        if c == "\\":
            if i + 1 >= n:
                raise RowError(INVALID_ARGUMENT, "replacement ends with a backslash")
            literal.append(replacement[i + 1])
            i += 2
        elif c == "$":
            if i + 1 < n and replacement[i + 1] == "{":
                end = replacement.find("}", i + 2)
                name = replacement[i + 2 : end] if end > 0 else ""
                if name not in names:
                    raise RowError(INVALID_ARGUMENT, f"no group named {name!r} in replacement")
                group(name)
                i = end + 1
                continue
            if i + 1 >= n or not replacement[i + 1].isdigit():
                raise RowError(INVALID_ARGUMENT, "illegal group reference in replacement")
            number = int(replacement[i + 1])
            j = i + 2
            # like Java, keep taking digits while the number stays a valid group
            while (
                j < n and replacement[j].isdigit() and number * 10 + int(replacement[j]) <= groups
            ):
                number = number * 10 + int(replacement[j])
                j += 1
            if number > groups:
                raise RowError(INVALID_ARGUMENT, f"no group {number} in replacement")
            group(number)
            i = j
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append((False, "".join(literal)))
    return tuple(parts)


def regex_replace(
    s: Any, pattern: Any, replacement: Any, start: Any = 1, occurrence: Any = 0
) -> Any:
    """``REGEX_REPLACE(original, regex, replacement, startPosition, occurrence)``
    (sql-reference-regex-replace.html): Java regex and ``$1`` replacements; the search begins
    at ``startPosition`` (< 1 is an error; past the end returns ``original``); ``occurrence``
    0 replaces every match, n > 0 only the n-th, < 0 is an error."""
    if s is None or pattern is None or replacement is None or start is None or occurrence is None:
        return None
    text = _str(s, "REGEX_REPLACE")
    first = _int(start, "REGEX_REPLACE")
    nth = _int(occurrence, "REGEX_REPLACE")
    if first < 1:
        raise RowError(INVALID_ARGUMENT, f"REGEX_REPLACE start position {first} is below 1")
    if nth < 0:
        raise RowError(INVALID_ARGUMENT, f"REGEX_REPLACE occurrence {nth} is negative")
    if first > len(text):
        return text
    regex = _java_regex(_str(pattern, "REGEX_REPLACE"))
    parts = _java_replacement(
        _str(replacement, "REGEX_REPLACE"), regex.groups, frozenset(regex.groupindex)
    )

    def expand(m: re.Match[str]) -> str:
        return "".join((m.group(v) or "") if is_group else v for is_group, v in parts)  # type: ignore[misc]

    head, tail = text[: first - 1], text[first - 1 :]
    if nth == 0:
        return head + regex.sub(expand, tail)
    for count, m in enumerate(regex.finditer(tail), start=1):
        if count == nth:
            return head + tail[: m.start()] + expand(m) + tail[m.end() :]
    return text


# ---------------------------------------------------------------- SUBSTRING by pattern


def substring_regex(s: Any, pattern: Any) -> Any:
    """``SUBSTRING(s FROM regex)``: the first match of the Java regular expression in ``s``,
    NULL when there is none (sql-reference-substring.html: "Only the first match is
    returned")."""
    if s is None or pattern is None:
        return None
    text = _str(s, "SUBSTRING")
    match = _java_regex(_str(pattern, "SUBSTRING")).search(text)
    return None if match is None else match.group(0)


@lru_cache(maxsize=256)
def _similar_substring_regex(pattern: str, escape: str) -> re.Pattern[str]:
    if len(escape) != 1:
        raise RowError(INVALID_ARGUMENT, f"SUBSTRING escape must be one character: {escape!r}")
    parts = pattern.split(escape + '"')
    if len(parts) != 3:
        raise RowError(
            INVALID_ARGUMENT,
            f'SUBSTRING … SIMILAR needs a pattern in three parts separated by {escape}", '
            f"got {pattern!r}",
        )
    head, body, tail = parts
    try:
        return re.compile(
            f"(?:{_similar_body(head, escape, lazy=True)})({_similar_body(body, escape)})"
            f"(?:{_similar_body(tail, escape)})",
            re.DOTALL,
        )
    except re.error as exc:
        raise RowError(INVALID_ARGUMENT, f"bad SIMILAR pattern {pattern!r}: {exc}") from None


def substring_similar(s: Any, pattern: Any, escape: Any) -> Any:
    """``SUBSTRING(s SIMILAR pattern ESCAPE e)`` (SQL:2008, sql-reference-substring.html): the
    pattern is three SIMILAR TO parts separated by ``e"``; when the whole pattern matches the
    whole string, the part matched by the middle one (the first part matching as little as it
    can), else NULL."""
    if s is None or pattern is None or escape is None:
        return None
    regex = _similar_substring_regex(_str(pattern, "SUBSTRING"), _str(escape, "SUBSTRING"))
    match = regex.fullmatch(_str(s, "SUBSTRING"))
    return None if match is None else match.group(1)
