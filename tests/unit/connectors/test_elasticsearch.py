import json

from connectors.core import Batch, DontRetry, Rejected, Retry, RetryPartial, Successful
from connectors.elasticsearch import (
    BulkResponse,
    DocumentIdStrategy,
    ElasticsearchDestination,
    es_failure_formatter,
)
from tests.unit.connectors.helpers import rec

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


def test_failure_document_has_firehose_fields() -> None:
    d = dest()
    doc = es_failure_formatter(d)(Rejected(BATCH.records[2], "invalid_json", "nope"), 1, 99)
    assert doc["rawData"] == "bm90IGpzb24="  # base64("not json")
    assert doc["esDocumentId"] == "t+0+12" and doc["esIndexName"] == "ticks"
    assert set(doc) >= {"attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage",
                        "attemptEndingTimestamp", "esTypeName"}
