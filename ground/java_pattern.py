"""Tokenising Java date/time patterns (``DateTimeFormatter`` / ``SimpleDateFormat`` syntax).

Shared by Firehose's ``!{timestamp:…}`` prefix expressions (:mod:`connectors.s3.prefix`) and
KDA's TIMESTAMP_TO_CHAR / CHAR_TO_TIMESTAMP (:mod:`pipelines.sql._scalar_format`). Each caller
decides which letters it supports and which error to raise; this module only splits the text.

A pattern is a run of tokens: a run of one ASCII letter (``yyyy`` → ``("y", 4)``), a quoted
literal (``'T'``; ``''`` is one quote, inside or outside quotes), or any other character as
itself. A token is ``(letter, count)`` for a letter run, ``("'", text)`` for quoted text and
``("", char)`` for any other character.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["PatternError", "Token", "tokenize"]

Token = tuple[str, int] | tuple[str, str]


class PatternError(ValueError):
    """The pattern cannot be split (an unterminated quote)."""


@lru_cache(maxsize=256)
def tokenize(pattern: str) -> tuple[Token, ...]:
    out: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            # As Java's appendPattern: up to the next lone quote, '' inside being a quote;
            # an empty literal ('') is one quote.
            j = i + 1
            while True:
                if j >= n:
                    raise PatternError(f"unterminated quote in {pattern!r}")
                if pattern[j] == "'":
                    if pattern.startswith("''", j):
                        j += 2
                        continue
                    break
                j += 1
            text = pattern[i + 1:j]
            out.append(("'", text.replace("''", "'") if text else "'"))
            i = j + 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < n and pattern[j] == c:
                j += 1
            out.append((c, j - i))
            i = j
        else:
            out.append(("", c))
            i += 1
    return tuple(out)
