"""The one JSON form of SQL values in operator state: changelog keys and values, accumulator
and sketch snapshots, and the ``DATA_ROW`` of error rows.

JSON (orjson) keeps ``str``, ``bool``, ``None``, 64-bit ``int`` and ``float`` as they are;
every other SQL value is a two-element list ``[tag, payload]``, so that decoding gives back
the same Python class (a TIMESTAMP group key stays a :class:`~pipelines.sql.types.Timestamp`):

===========  ================================  ==========================
tag          value                             payload
===========  ================================  ==========================
``$ts``      :class:`Timestamp`                milliseconds
``$d``       :class:`Date`                     milliseconds
``$t``       :class:`Time`                     milliseconds
``$i``       :class:`Interval`                 milliseconds
``$ym``      :class:`MonthInterval`            months
``$dec``     ``Decimal``                       its text
``$b``       ``bytes``                         hex
``$int``     ``int`` beyond 64 bits            its text
``$float``   NaN / ±infinity                   ``repr`` text
===========  ================================  ==========================

Two levels use it. :func:`encode_value` / :func:`decode_value` are the exact forms of one
value, which accumulators and sketches put in their snapshots (a sum may be infinite).
:func:`dumps` / :func:`loads` write whole states — tuples, lists and dicts of values — as
bytes; :func:`loads` gives lists back as tuples (hashable group keys) and decodes every
tagged value, snapshots' included. A float that is not finite directly in a state written by
:func:`dumps` becomes ``null``, as JSON has it (orjson writes floats without asking; the
snapshots that can hold one encode it first).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import orjson

from pipelines.sql.types import Date, Interval, MonthInterval, Time, Timestamp

__all__ = ["decode_value", "dumps", "encode_value", "loads", "tag", "untag"]

_TEMPORAL: dict[type, str] = {
    Timestamp: "$ts",
    Date: "$d",
    Time: "$t",
    Interval: "$i",
    MonthInterval: "$ym",
}
_CLASSES: dict[str, type] = {v: k for k, v in _TEMPORAL.items()}
_DECIMAL = "$dec"
_BYTES = "$b"
_BIG_INT = "$int"
_FLOAT = "$float"
_INT64 = (-(2**63), 2**63 - 1)


def _tagged(value: Any) -> list[Any] | None:
    """The tagged form of a temporal, DECIMAL or bytes value; None for anything else."""
    name = _TEMPORAL.get(type(value))
    if name is not None:
        return [name, int(value)]
    kind = type(value)
    if kind is Decimal:
        return [_DECIMAL, str(value)]
    if kind is bytes:
        return [_BYTES, value.hex()]
    return None


def encode_value(value: Any) -> Any:
    """The exact JSON-safe form of one SQL value; TypeError for anything else."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value if _INT64[0] <= value <= _INT64[1] else [_BIG_INT, str(value)]
    if kind is float:
        return value if math.isfinite(value) else [_FLOAT, repr(value)]
    tagged = _tagged(value)
    if tagged is None:
        raise TypeError(f"cannot snapshot a {kind.__name__}")
    return tagged


def _decode_tag(name: str, payload: Any) -> tuple[bool, Any]:
    klass = _CLASSES.get(name)
    if klass is not None:
        return True, klass(payload)
    if name == _DECIMAL:
        return True, Decimal(payload)
    if name == _BYTES:
        return True, bytes.fromhex(payload)
    if name == _BIG_INT:
        return True, int(payload)
    if name == _FLOAT:
        return True, float(payload)
    return False, None


def decode_value(data: Any) -> Any:
    """Inverse of :func:`encode_value`. A value that is not a list is itself: what
    :func:`loads` already decoded comes through unchanged."""
    if type(data) is not list:
        return data
    name, payload = data
    known, value = _decode_tag(name, payload)
    if not known:
        raise ValueError(f"unknown value tag {name!r}")
    return value


def tag(value: Any) -> Any:
    """A JSON-safe form of ``value``, recursively for tuples, lists and dicts (floats are
    left to orjson; a type the codec does not know is left as it is)."""
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    if kind is int:
        return value if _INT64[0] <= value <= _INT64[1] else [_BIG_INT, str(value)]
    if kind is tuple or kind is list:
        return [tag(v) for v in value]
    if kind is dict:
        return {str(k): tag(v) for k, v in value.items()}
    tagged = _tagged(value)
    return value if tagged is None else tagged


def untag(value: Any) -> Any:
    """Inverse of :func:`tag` (and of :func:`encode_value` inside it); lists come back as
    tuples."""
    if isinstance(value, list):
        if len(value) == 2 and isinstance(value[0], str) and value[0].startswith("$"):
            known, decoded = _decode_tag(value[0], value[1])
            if known:
                return decoded
        return tuple(untag(v) for v in value)
    if isinstance(value, dict):
        return {k: untag(v) for k, v in value.items()}
    return value


def _tag_default(value: Any) -> Any:
    """orjson's hook for what it does not write itself (with ``OPT_PASSTHROUGH_SUBCLASS``,
    the temporal ``int`` subclasses too): the tagged form, as :func:`tag` gives it."""
    tagged = _tagged(value)
    if tagged is None:
        raise TypeError  # anything else: let tag() decide
    return tagged


def dumps(value: Any) -> bytes:
    # The same bytes as ``orjson.dumps(tag(value))``, without walking ``value`` in Python
    # when orjson can (nested tuples, lists and str-keyed dicts of plain and tagged values;
    # an int beyond 64 bits raises, and takes the walk).
    try:
        return orjson.dumps(value, default=_tag_default, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return orjson.dumps(tag(value))


def loads(data: bytes) -> Any:
    return untag(orjson.loads(data))
