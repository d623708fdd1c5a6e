"""The *fast regex* syntax of FAST_REGEX_LOG_PARSER, translated to a Python regular expression
(private; used by :mod:`pipelines.sql._scalar_logparse`).

The syntax is the automaton one of sql-reference-fast-regex-log-parser.html: ``|`` union,
``?`` ``*`` ``+`` ``{n}`` ``{n,}`` ``{n,m}`` repetition, ``[…]`` ``[^…]`` classes with ranges,
``.`` any character, ``#`` the empty language, ``@`` any string, ``"…"`` a literal string,
``( )`` the empty string, ``\\c`` a literal character. Every parenthesized expression is a
group (a column), and repetitions are lazy, as the page's "lazy semantics" ask. Intersection
``&``, complement ``~`` and named patterns ``<name>`` / ``<n-m>`` are refused.
"""

from __future__ import annotations

import re

from ground.errors import SqlPlanError, SqlUnsupportedError

__all__ = ["fast_regex_to_python"]


class _FastRegex:
    """Translate the fast-regex (automaton) syntax into a Python regular expression with lazy
    quantifiers, every parenthesized expression a group:

    ``|`` union, ``?`` ``*`` ``+`` ``{n}`` ``{n,}`` ``{n,m}`` repetition, ``[…]`` ``[^…]``
    classes with ranges, ``.`` any character, ``#`` the empty language, ``@`` any string,
    ``"…"`` a literal string, ``( )`` the empty string, ``\\c`` a literal character.
    Intersection ``&``, complement ``~`` and named patterns ``<name>`` / ``<n-m>`` are refused.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.groups = 0

    def error(self, message: str) -> SqlPlanError:
        return SqlPlanError(f"bad fast regex {self.text!r} at {self.i}: {message}")

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def translate(self) -> str:
        out = self.union()
        if self.i < len(self.text):
            raise self.error(f"unexpected {self.peek()!r}")
        return out

    def union(self) -> str:
        parts = [self.concat()]
        while self.peek() == "|":
            self.i += 1
            parts.append(self.concat())
        return "|".join(parts)

    def concat(self) -> str:
        out: list[str] = []
        while self.peek() not in ("", "|", ")"):
            if self.peek() == "&":
                raise SqlUnsupportedError(f"fast regex intersection '&' in {self.text!r}")
            out.append(self.repeat())
        return "".join(out)

    def repeat(self) -> str:
        atom = self.atom()
        while True:
            c = self.peek()
            if c in ("?", "*", "+"):
                self.i += 1
                atom = f"(?:{atom}){c}?"
            elif c == "{":
                end = self.text.find("}", self.i)
                spec = self.text[self.i + 1 : end] if end > 0 else ""
                if not re.fullmatch(r"\d+(?:,\d*)?", spec):
                    raise self.error("bad {n,m} repetition")
                self.i = end + 1
                lazy = "?" if "," in spec else ""
                atom = f"(?:{atom}){{{spec}}}{lazy}"
            else:
                return atom

    def atom(self) -> str:
        c = self.peek()
        if c == "~":
            raise SqlUnsupportedError(f"fast regex complement '~' in {self.text!r}")
        if c == "<":
            raise SqlUnsupportedError(
                f"fast regex named pattern or interval '<…>' in {self.text!r}"
            )
        if c == "(":
            self.i += 1
            self.groups += 1
            inner = self.union() if self.peek() != ")" else ""
            if self.peek() != ")":
                raise self.error("missing ')'")
            self.i += 1
            return f"({inner})"
        if c == "[":
            return self.char_class()
        if c == '"':
            end = self.text.find('"', self.i + 1)
            if end < 0:
                raise self.error("unterminated string")
            literal = self.text[self.i + 1 : end]
            self.i = end + 1
            return re.escape(literal)
        if c == ".":
            self.i += 1
            return "."
        if c == "#":
            self.i += 1
            return "(?!)"
        if c == "@":
            self.i += 1
            return ".*?"
        return re.escape(self.char())

    def char(self) -> str:
        c = self.peek()
        if c == "":
            raise self.error("unexpected end")
        if c in "?*+{}()|[]":
            raise self.error(f"unexpected {c!r}")
        return self._one_char()

    def char_class(self) -> str:
        self.i += 1  # [
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        parts: list[str] = []
        while self.peek() != "]":
            if self.peek() == "":
                raise self.error("unterminated character class")
            low = self._one_char()
            if self.peek() == "-" and self.i + 1 < len(self.text) and self.text[self.i + 1] != "]":
                self.i += 1
                high = self._one_char()
                if high < low:
                    raise self.error(f"bad range {low}-{high}")
                parts.append(f"{_class_escape(low)}-{_class_escape(high)}")
            else:
                parts.append(_class_escape(low))
        self.i += 1  # ]
        if not parts:
            raise self.error("empty character class")
        return f"[{'^' if negate else ''}{''.join(parts)}]"

    def _one_char(self) -> str:
        """The next character, or the one a backslash escapes."""
        c = self.peek()
        if c == "\\":
            if self.i + 1 >= len(self.text):
                raise self.error("pattern ends with a backslash")
            self.i += 2
            return self.text[self.i - 1]
        self.i += 1
        return c


def _class_escape(c: str) -> str:
    return "\\" + c if c in "\\]^-[" else c


def fast_regex_to_python(pattern: str) -> tuple[str, int]:
    """The Python regex for a fast regex, and its number of groups."""
    translator = _FastRegex(pattern)
    return translator.translate(), translator.groups
