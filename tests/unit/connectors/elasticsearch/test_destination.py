"""Rotation inside the ``_bulk`` body: each document carries its own ``_index``."""

import json

from connectors.core import Batch
from connectors.elasticsearch import ElasticsearchDestination, IndexRotationPeriod
from tests.unit.connectors.helpers import rec

BEFORE = 1_772_359_199_999  # 2026-03-01T09:59:59.999Z
AFTER = 1_772_359_200_000  # 2026-03-01T10:00:00.000Z


def actions(body: bytes) -> list[dict]:
    return [json.loads(line)["index"] for line in body.decode().splitlines()[0::2]]


def test_a_batch_straddling_an_hour_boundary_writes_two_indexes() -> None:
    d = ElasticsearchDestination("http://127.0.0.1:9", "ticks",
                                 rotation=IndexRotationPeriod.ONE_HOUR)
    batch = Batch.of([rec(1, ts=BEFORE), rec(2, ts=BEFORE), rec(3, ts=AFTER)])
    assert actions(d.encode(batch).body) == [
        {"_index": "ticks-2026-03-01-09", "_id": "t+0+1"},
        {"_index": "ticks-2026-03-01-09", "_id": "t+0+2"},
        {"_index": "ticks-2026-03-01-10", "_id": "t+0+3"},
    ]


def test_the_record_time_decides_not_the_order_or_the_clock() -> None:
    """A replay months later, or an older timestamp after a newer one, keeps its index."""
    d = ElasticsearchDestination("http://127.0.0.1:9", "ticks",
                                 rotation=IndexRotationPeriod.ONE_DAY)
    batch = Batch.of([rec(1, ts=AFTER), rec(2, ts=BEFORE - 86_400_000)])
    assert [a["_index"] for a in actions(d.encode(batch).body)] == [
        "ticks-2026-03-01", "ticks-2026-02-28"]


def test_no_rotation_is_the_default() -> None:
    d = ElasticsearchDestination("http://127.0.0.1:9", "ticks")
    assert actions(d.encode(Batch.of([rec(1, ts=AFTER)])).body)[0]["_index"] == "ticks"


def test_document_id_none_sends_no_id_and_keys_are_not_needed() -> None:
    """NO_DOCUMENT_ID: the engine assigns ids; records without a key are still indexed."""
    from connectors.elasticsearch import DocumentIdStrategy

    d = ElasticsearchDestination("http://127.0.0.1:9", "ticks",
                                 document_id=DocumentIdStrategy.NONE)
    request = d.encode(Batch.of([rec(1, ts=AFTER), rec(2, ts=AFTER, key=None)]))
    assert actions(request.body) == [{"_index": "ticks"}, {"_index": "ticks"}]
    assert request.invalid == ()
    assert [json.loads(line) for line in request.body.decode().splitlines()[1::2]] == [
        {"a": 1}, {"a": 1}]
