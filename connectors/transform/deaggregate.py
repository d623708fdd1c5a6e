"""Record deaggregation (Firehose's RecordDeAggregation processor): one record → sub-records.

``JSON``: a record holding several JSON values back to back (``{..}{..}`` or one per line)
becomes one sub-record per value, each the exact bytes of that value. ``DELIMITED``: the
record is split on ``delimiter``; an empty last piece (a trailing delimiter) is not a record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DeaggregationError", "Deaggregator", "SubRecordType"]

class SubRecordType(StrEnum):
    JSON = "JSON"
    DELIMITED = "DELIMITED"

class DeaggregationError(ValueError):
    """The record cannot be split (not JSON, for JSON deaggregation)."""

@dataclass(frozen=True, slots=True)
class Deaggregator:
    sub_record_type: SubRecordType = SubRecordType.JSON
    delimiter: bytes = b"\n"

    def __post_init__(self) -> None:
        if not self.delimiter:
            raise ValueError("the delimiter must not be empty")

    def split(self, value: bytes) -> list[bytes]:
        if self.sub_record_type == SubRecordType.DELIMITED:
            parts = value.split(self.delimiter)
            if parts and parts[-1] == b"":
                parts.pop()
            return parts
        return _split_json(value)

def _split_json(value: bytes) -> list[bytes]:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeaggregationError(f"not UTF-8: {exc}") from None
    decoder = json.JSONDecoder()
    out: list[bytes] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos == end:
            break
        try:
            _, stop = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DeaggregationError(f"not JSON at character {exc.pos}: {exc.msg}") from None
        out.append(text[pos:stop].encode("utf-8"))
        pos = stop
    if not out:
        raise DeaggregationError("no JSON value in the record")
    return out
