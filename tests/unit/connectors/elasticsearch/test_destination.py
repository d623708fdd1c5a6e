"""The ``_bulk`` destination: deterministic ids (``offset``, ``record_key``, ``field``,
``none``), rotation inside the body (each document carries its own ``_index``), and the
classification of the answer."""

import json

import pytest

from connectors.core import Batch, DontRetry, Retry, RetryPartial, Successful
from connectors.elasticsearch import (
    BulkResponse,
    DocumentIdStrategy,
    ElasticsearchDestination,
    IndexRotationPeriod,
)
from tests.unit.connectors.helpers import rec

# -- rotation ---------------------------------------------------------------------------------

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


# -- document_id: field: the id from a top-level JSON field -----------------------------------

def field_dest() -> ElasticsearchDestination:
    return ElasticsearchDestination("http://127.0.0.1:9", "orders",
                                    document_id=DocumentIdStrategy.FIELD,
                                    document_id_field="order_id")


def test_ids_come_from_the_field_and_a_resend_gets_the_same_id() -> None:
    batch = Batch.of([
        rec(1, b'{"order_id":"o-1","n":1}'),
        rec(2, b'{"order_id":17,\n "n":2}'),
        rec(3, b'{"order_id":"o-1","n":1}'),  # the producer sent o-1 again
    ])
    request = field_dest().encode(batch)
    lines = [json.loads(line) for line in request.body.splitlines()]
    assert [line["index"]["_id"] for line in lines[0::2]] == ["o-1", "17", "o-1"]
    assert lines[3] == {"order_id": 17, "n": 2}
    assert not request.invalid


@pytest.mark.parametrize("value", [
    b'{"n":1}', b'{"order_id":null}', b'{"order_id":true}', b'{"order_id":""}',
    b'{"order_id":1.5}', b'{"order_id":{"a":1}}', b'{"order_id":["a"]}',
    b'{"order_id":"' + b"x" * 513 + b'"}',
])
def test_a_record_without_a_usable_id_fails_alone_naming_the_field(value: bytes) -> None:
    request = field_dest().encode(Batch.of([rec(1, b'{"order_id":"ok"}'), rec(2, value)]))
    assert [r.offset for r in request.items] == [1]
    [rejected] = request.invalid
    assert rejected.record.offset == 2
    assert rejected.error_code == "missing_document_id_field"
    assert "'order_id'" in rejected.error_message


def test_not_json_is_still_invalid_json() -> None:
    request = field_dest().encode(Batch.of([rec(1, b"not json")]))
    assert request.invalid[0].error_code == "invalid_json"


def test_the_destination_needs_the_field_with_the_strategy_only() -> None:
    with pytest.raises(ValueError, match="document_id_field"):
        ElasticsearchDestination("http://x", "i", document_id=DocumentIdStrategy.FIELD)
    with pytest.raises(ValueError, match="document_id_field"):
        ElasticsearchDestination("http://x", "i", document_id_field="id")


# -- the request and its answer ---------------------------------------------------------------

BATCH = Batch.of([
    rec(10, b'{"ticker":"AMZN","p":1}', key=b"AMZN|1700000000000"),
    rec(11, b'{"ticker":"AMZN",\n "p":2}', key=b"AMZN|1700000001000"),
    rec(12, b"not json", key=b"bad"),
    rec(13, b'{"ticker":"MSFT","p":3}', key=b"MSFT|1700000000000"),
])


def dest(strategy: DocumentIdStrategy = DocumentIdStrategy.OFFSET) -> ElasticsearchDestination:
    return ElasticsearchDestination("http://127.0.0.1:9", "ticks", document_id=strategy)


def item(status: int, error: dict | None = None, _id: str = "x") -> dict:
    body: dict = {"_index": "ticks", "_id": _id, "status": status}
    if error:
        body["error"] = error
    else:
        body.update({"_version": 1, "result": "created", "_seq_no": 0, "_primary_term": 1,
                     "_shards": {"total": 1, "successful": 1, "failed": 0}})
    return {"index": body}


MAPPING_ERROR = {"type": "mapper_parsing_exception",
                 "reason": "failed to parse field [p] of type [long] in document with id 'x'",
                 "caused_by": {"type": "illegal_argument_exception", "reason": "For input"}}


REJECTED_429 = {"type": "es_rejected_execution_exception",
                "reason": "rejected execution of coordinating operation"}


def test_encode_ndjson_with_deterministic_offset_ids() -> None:
    request = dest().encode(BATCH)
    lines = request.body.decode().splitlines()
    assert len(lines) == 6 and request.body.endswith(b"\n")
    assert json.loads(lines[0]) == {"index": {"_index": "ticks", "_id": "t+0+10"}}
    assert json.loads(lines[3]) == {"ticker": "AMZN", "p": 2}  # re-serialised onto one line
    assert [r.offset for r in request.items] == [10, 11, 13]
    assert [(r.record.offset, r.error_code) for r in request.invalid] == [(12, "invalid_json")]


def test_record_key_ids() -> None:
    request = dest(DocumentIdStrategy.RECORD_KEY).encode(BATCH)
    assert json.loads(request.body.splitlines()[0])["index"]["_id"] == "AMZN|1700000000000"
    no_key = Batch.of([rec(1, b"{}")])
    assert dest(DocumentIdStrategy.RECORD_KEY).encode(no_key).invalid[0].error_code == (
        "missing_record_key")


def test_all_items_created_with_an_invalid_record_is_dont_retry_for_that_record_only() -> None:
    d = dest()
    request = d.encode(BATCH)
    ok = BulkResponse(200, {"took": 3, "errors": False, "items": [item(201)] * 3})
    outcome = d.classify(BATCH, request, ok)
    assert isinstance(outcome, DontRetry)
    assert [r.record.offset for r in outcome.rejected] == [12]
    valid = Batch.of([BATCH.records[0]])
    assert isinstance(d.classify(valid, d.encode(valid),
                                 BulkResponse(200, {"errors": False, "items": [item(201)]})),
                      Successful)


def test_per_item_429_and_5xx_retry_only_those_items_mapping_errors_are_permanent() -> None:
    d = dest()
    request = d.encode(BATCH)
    body = {"took": 5, "errors": True,
            "items": [item(429, REJECTED_429), item(400, MAPPING_ERROR), item(503, {
                "type": "unavailable_shards_exception", "reason": "primary shard is not active"})]}
    outcome = d.classify(BATCH, request, BulkResponse(200, body))
    assert isinstance(outcome, RetryPartial)
    assert [r.offset for r in outcome.records] == [10, 13]
    assert [(r.record.offset, r.error_code) for r in outcome.rejected] == [
        (12, "invalid_json"), (11, "mapper_parsing_exception")]


def test_whole_request_failures() -> None:
    d = dest()
    valid = Batch.of([BATCH.records[0], BATCH.records[3]])
    request = d.encode(valid)
    too_many = BulkResponse(429, {"error": REJECTED_429, "status": 429})
    assert isinstance(d.classify(valid, request, too_many), Retry)
    assert isinstance(d.classify(valid, request, BulkResponse(None, error="refused")), Retry)
    assert isinstance(d.classify(valid, request, BulkResponse(502, None)), Retry)
    bad = BulkResponse(400, {"error": {"type": "illegal_argument_exception",
                                       "reason": "The bulk request must be terminated"}})
    outcome = d.classify(valid, request, bad)
    assert isinstance(outcome, DontRetry) and len(outcome.rejected) == 2
    # with an invalid record in the batch, retry all valid ones, reject the invalid one once
    mixed = d.encode(BATCH)
    outcome = d.classify(BATCH, mixed, too_many)
    assert isinstance(outcome, RetryPartial)
    assert [r.offset for r in outcome.records] == [10, 11, 13]
    assert [r.record.offset for r in outcome.rejected] == [12]
