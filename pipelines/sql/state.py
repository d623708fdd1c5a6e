"""Serialising operator state for the changelog: SQL values keep their types.

``dumps`` writes JSON with orjson; temporal values, DECIMAL and bytes are tagged so that
``loads`` gives back the same Python classes (a TIMESTAMP group key stays a
:class:`~pipelines.sql.types.Timestamp`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from pipelines.sql.types import Date, Interval, Time, Timestamp

__all__ = ["dumps", "loads", "tag", "untag"]

_TAGS: dict[type, str] = {Timestamp: "$ts", Date: "$d", Time: "$t", Interval: "$i"}
_CLASSES: dict[str, type] = {v: k for k, v in _TAGS.items()}


def tag(value: Any) -> Any:
    """A JSON-safe form of ``value`` (recursively for lists, tuples and dicts)."""
    kind = type(value)
    if kind in (int, float, str, bool) or value is None:
        return value
    name = _TAGS.get(kind)
    if name is not None:
        return [name, int(value)]
    if kind is Decimal:
        return ["$dec", str(value)]
    if kind is bytes:
        return ["$b", value.hex()]
    if kind is tuple or kind is list:
        return [tag(v) for v in value]
    if kind is dict:
        return {str(k): tag(v) for k, v in value.items()}
    return value


def untag(value: Any) -> Any:
    """Inverse of :func:`tag`; lists come back as tuples (hashable group keys)."""
    if isinstance(value, list):
        if len(value) == 2 and isinstance(value[0], str) and value[0].startswith("$"):
            name, payload = value
            klass = _CLASSES.get(name)
            if klass is not None:
                return klass(payload)
            if name == "$dec":
                return Decimal(payload)
            if name == "$b":
                return bytes.fromhex(payload)
        return tuple(untag(v) for v in value)
    if isinstance(value, dict):
        return {k: untag(v) for k, v in value.items()}
    return value


def _tag_default(value: Any) -> Any:
    """orjson's hook for what it does not write itself (with ``OPT_PASSTHROUGH_SUBCLASS``,
    the temporal ``int`` subclasses too): the tagged form, as :func:`tag` gives it."""
    name = _TAGS.get(type(value))
    if name is not None:
        return [name, int(value)]
    if type(value) is Decimal:
        return ["$dec", str(value)]
    if type(value) is bytes:
        return ["$b", value.hex()]
    raise TypeError  # anything else: let tag() decide


def dumps(value: Any) -> bytes:
    # The same bytes as ``orjson.dumps(tag(value))``, without walking ``value`` in Python
    # when orjson can (nested tuples, lists and str-keyed dicts of plain and tagged values).
    try:
        return orjson.dumps(value, default=_tag_default, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return orjson.dumps(tag(value))


def loads(data: bytes) -> Any:
    return untag(orjson.loads(data))
