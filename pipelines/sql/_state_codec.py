"""JSON-safe encoding of SQL values for accumulator and sketch snapshots (private).

Plain ``str``, ``bool``, finite ``float``, ``None`` and 64-bit ``int`` are themselves; anything
that JSON (orjson) would lose is a two-element list ``[tag, payload]`` — no SQL value is a list,
so the forms cannot collide:

=====  ================================  ==========================
tag    value                             payload
=====  ================================  ==========================
``T``  :class:`Timestamp`                milliseconds
``D``  :class:`Date`                     milliseconds
``t``  :class:`Time`                     milliseconds
``I``  :class:`Interval`                 milliseconds
``N``  ``Decimal``                       its text
``L``  ``int`` beyond 64 bits            its text
``F``  NaN / ±infinity                   ``repr`` text
``B``  ``bytes``                         hex
=====  ================================  ==========================
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from pipelines.sql.types import Date, Interval, Time, Timestamp

__all__ = ["decode_value", "encode_value"]

_TAGGED: dict[type, str] = {Timestamp: "T", Date: "D", Time: "t", Interval: "I"}
_CLASSES: dict[str, type] = {v: k for k, v in _TAGGED.items()}
_INT64 = (-(2**63), 2**63 - 1)


def encode_value(value: Any) -> Any:
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if t is int:
        return value if _INT64[0] <= value <= _INT64[1] else ["L", str(value)]
    if t is float:
        return value if math.isfinite(value) else ["F", repr(value)]
    tag = _TAGGED.get(t)
    if tag is not None:
        return [tag, int(value)]
    if t is Decimal:
        return ["N", str(value)]
    if t is bytes:
        return ["B", value.hex()]
    raise TypeError(f"cannot snapshot a {t.__name__}")


def decode_value(data: Any) -> Any:
    if type(data) is not list:
        return data
    tag, payload = data
    cls = _CLASSES.get(tag)
    if cls is not None:
        return cls(payload)
    if tag == "N":
        return Decimal(payload)
    if tag == "L":
        return int(payload)
    if tag == "F":
        return float(payload)
    if tag == "B":
        return bytes.fromhex(payload)
    raise ValueError(f"unknown value tag {tag!r}")
