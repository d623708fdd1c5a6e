"""Deterministic object keys: the same batch start always maps to the same key."""

from __future__ import annotations

from connectors.core import Batch
from connectors.s3 import date_path, object_key
from tests.unit.connectors.helpers import rec

BATCH = Batch.of([rec(1234, b'{"a":1}', partition=2, ts=1_700_000_000_000),
                  rec(1235, None, partition=2), rec(1236, b'{"a":2}', partition=2)])


def test_key_is_deterministic_from_start_offset_and_oldest_record_time() -> None:
    key = object_key("raw/", "ticks", BATCH, ".jsonl.gz")
    assert key == "raw/2023/11/14/22/ticks-t+2+00000000000000001234.jsonl.gz"
    assert date_path(0) == "1970/01/01/00/"
