"""JSONPath mappings of KDA record columns, compiled to plain dict/list lookups.

KDA maps JSON elements to columns with JSONPath (``RecordColumns[].Mapping``) and finds the
rows of a record with ``JSONMappingParameters.RecordRowPath``. The forms KDA documents are
compiled to direct lookups, because they run for every column of every record:

===========================  ================================================================
``$``                        the whole value
``$.a``, ``$.a.b``           object members (a missing member, or a step into a non-object,
                             gives ``None``: KDA maps absent elements to NULL)
``$['a b']``, ``$["a"]``     bracketed member names (any characters but the quote)
``$.a[0]``, ``$.a[-1]``      array elements by index
``$.a[0:]``, ``$.a[*]``      KDA's array expression. Last in the path: the whole array as one
                             value. Followed by more steps (``$.orders[0:].id``): the array is
                             *flattened*, one row per element (see :class:`JsonPath.flatten`)
===========================  ================================================================

Anything else that ``jsonpath_ng`` parses (``$..price``, filters, slices) is evaluated with
it: no match gives ``None``, one match its value, several matches the list of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Getter", "JsonPath", "compile_path"]

Getter = Callable[[Any], Any]

_STEP = re.compile(
    r"""\.(?P<name>[^.\[\]'"]+)"""
    r"""|\[\s*'(?P<sq>[^']*)'\s*\]"""
    r"""|\[\s*"(?P<dq>[^"]*)"\s*\]"""
    r"""|\[\s*(?P<index>-?\d+)\s*\]"""
    r"""|\[\s*(?P<all>0\s*:|\*)\s*\]"""
)
_ALL = object()  # the marker of ``[0:]`` / ``[*]`` among the steps


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A compiled mapping.

    ``get(value)`` evaluates the whole path (an array expression last in the path yields the
    array itself). When the path flattens an array, ``flatten`` is
    ``(array_path, array, element)``: ``array_path`` is the text up to and including ``[0:]``
    (the identity of the flattened array), ``array`` reads that array from the row and
    ``element`` reads the rest of the path from one of its elements.
    """

    text: str
    get: Getter
    flatten: tuple[str, Getter, Getter] | None = None
    #: True when evaluated with jsonpath_ng rather than compiled lookups.
    general: bool = False
    #: The member name when the path is one member of the top level (``$.a``, ``$['a b']``).
    member: str | None = None


def compile_path(text: str) -> JsonPath:
    """Compile ``text``; ``ValueError`` with the reason when it is not a usable JSONPath."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a JSONPath must be a non-empty string starting with '$'")
    text = text.strip()
    if not text.startswith("$"):
        raise ValueError(f"a JSONPath must start with '$', got {text!r}")
    steps = _tokenize(text)
    if steps is None:
        return _general(text)
    markers = [i for i, s in enumerate(steps) if s is _ALL]
    if not markers:
        member = steps[0] if len(steps) == 1 and isinstance(steps[0], str) else None
        return JsonPath(text, _getter(steps), member=member)
    if len(markers) > 1:
        raise ValueError(
            f"{text}: only one array expression [0:] per path is supported (as in KDA)"
        )
    at = markers[0]
    prefix, suffix = steps[:at], steps[at + 1 :]
    if not suffix:  # the whole array as one value
        return JsonPath(text, _getter(prefix))
    array_text = _array_text(text)
    return JsonPath(text, _getter(steps), flatten=(array_text, _getter(prefix), _getter(suffix)))


def _array_text(text: str) -> str:
    """The part of ``text`` up to and including its array expression."""
    end = 1
    for match in _STEP.finditer(text, 1):
        end = match.end()
        if match.group("all") is not None:
            return text[:end]
    raise AssertionError("no array expression")  # pragma: no cover - callers checked


def _tokenize(text: str) -> list[Any] | None:
    steps: list[Any] = []
    pos = 1
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            return None
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("sq") is not None:
            steps.append(match.group("sq"))
        elif match.group("dq") is not None:
            steps.append(match.group("dq"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(_ALL)
        pos = match.end()
    return steps


def _getter(steps: list[Any]) -> Getter:
    """A function reading ``steps`` from a value; ``None`` where anything is missing.

    Through an array expression (``_ALL``) it returns the list of the rest of the path read
    from each element — what a flattened column holds before it is split into rows.
    """
    if not steps:
        return _identity
    if _ALL in steps:
        at = steps.index(_ALL)
        head, tail = _getter(steps[:at]), _getter(steps[at + 1 :])

        def through_array(value: Any) -> Any:
            array = head(value)
            if not isinstance(array, list):
                return None
            return [tail(element) for element in array]

        return through_array
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]

        def member(value: Any) -> Any:
            return value.get(key) if isinstance(value, dict) else None

        return member
    frozen = tuple(steps)

    def walk(value: Any) -> Any:
        for step in frozen:
            if isinstance(step, str):
                if not isinstance(value, dict):
                    return None
                value = value.get(step)
            else:
                if not isinstance(value, list):
                    return None
                try:
                    value = value[step]
                except IndexError:
                    return None
        return value

    return walk


def _identity(value: Any) -> Any:
    return value


def _general(text: str) -> JsonPath:
    from jsonpath_ng import parse  # imported only for the rare general paths
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError

    try:
        expr = parse(text)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        raise ValueError(f"not a JSONPath: {text!r} ({exc})") from None

    def find(value: Any) -> Any:
        matches = [m.value for m in expr.find(value)]
        if not matches:
            return None
        return matches[0] if len(matches) == 1 else matches

    return JsonPath(text, find, general=True)
