"""Java ``.properties`` files, as ``java.util.Properties.load`` reads them.

The format of Kafka's own ``--command-config`` / ``client.properties`` files: one
``key=value`` (or ``key: value``, or ``key value``) per logical line; ``#`` and ``!`` start
comment lines; a line ending in an odd number of backslashes continues on the next one
(whose leading blanks are dropped); ``\\t \\n \\r \\f \\uXXXX`` escapes, and a backslash
before any other character stands for that character (``\\=``, ``\\:``, ``\\ ``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ground.errors import ConfigError

__all__ = ["PropertyLine", "parse_properties"]

_BLANK = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_NEWLINES = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class PropertyLine:
    """One property: its key, its value and the (1-based) line it starts on."""

    key: str
    value: str
    line: int


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    natural = _NEWLINES.split(text)
    i = 0
    while i < len(natural):
        start = i
        line = natural[i].lstrip(_BLANK)
        i += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line) and i < len(natural):
            line = line[:-1] + natural[i].lstrip(_BLANK)
            i += 1
        if _continues(line):  # a continuation at the end of the file continues into nothing
            line = line[:-1]
        yield start + 1, line


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _unescape(raw: str, where: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != "\\" or i + 1 == len(raw):
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt == "u":
            digits = raw[i + 2 : i + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ConfigError(where, f"malformed \\uXXXX escape: {raw[i : i + 6]!r}")
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return "".join(out)


def _split(line: str) -> tuple[str, str]:
    """Key and value (both still escaped) of one logical line."""
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in "=:" or c in _BLANK:
            break
        i += 1
    key, rest = line[:i], line[i:]
    rest = rest.lstrip(_BLANK)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(_BLANK)
    return key, rest


def parse_properties(text: str, source: str) -> list[PropertyLine]:
    """The properties of ``text``, in order (a later duplicate wins in a dict built from
    them, as in Java). ``source`` names the file in errors."""
    out = []
    for number, line in _logical_lines(text):
        where = f"{source}:{number}"
        key, value = _split(line)
        out.append(PropertyLine(_unescape(key, where), _unescape(value, where), number))
    return out
