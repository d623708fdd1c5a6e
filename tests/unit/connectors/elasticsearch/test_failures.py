"""The failed-document envelope, field for field as in the Firehose developer guide."""

import base64
import json

from connectors.core import (
    Batch,
    DontRetry,
    Rejected,
    to_backup_record,
)
from connectors.elasticsearch import (
    BulkResponse,
    DocumentIdStrategy,
    ElasticsearchDestination,
    IndexRotationPeriod,
    es_failure_formatter,
)
from tests.unit.connectors.helpers import rec

# The guide's order; written out here rather than imported, so a change to the code shows.
FIREHOSE_FIELDS = ["attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage",
                   "attemptEndingTimestamp", "esDocumentId", "esIndexName", "esTypeName",
                   "rawData"]
TS = 1_798_761_599_000  # 2026-12-31T23:59:59Z, a Thursday
MAPPING_ERROR = {"type": "mapper_parsing_exception", "reason": "failed to parse field [p]"}


def dest() -> ElasticsearchDestination:
    return ElasticsearchDestination("http://127.0.0.1:9", "ticks",
                                    rotation=IndexRotationPeriod.ONE_WEEK)


def test_a_document_elasticsearch_refused() -> None:
    d = dest()
    batch = Batch.of([rec(7, b'{"p":"x"}', ts=TS)])
    body = {"errors": True, "items": [{"index": {"_index": "ticks-2027-w01", "_id": "t+0+7",
                                                 "status": 400, "error": MAPPING_ERROR}}]}
    outcome = d.classify(batch, d.encode(batch), BulkResponse(200, body))
    assert isinstance(outcome, DontRetry)
    doc = es_failure_formatter(d)(outcome.rejected[0], 3, TS + 5_000)
    assert list(doc) == FIREHOSE_FIELDS
    assert doc == {
        "attemptsMade": 3,
        "arrivalTimestamp": TS,
        "errorCode": "400",
        "errorMessage": '{"type":"mapper_parsing_exception","reason":"failed to parse field [p]"}',
        "attemptEndingTimestamp": TS + 5_000,
        "esDocumentId": "t+0+7",
        "esIndexName": "ticks-2027-w01",
        "esTypeName": "",
        "rawData": "eyJwIjoieCJ9",  # base64 of {"p":"x"}
    }


def test_a_whole_request_refusal_carries_the_http_status() -> None:
    d = dest()
    batch = Batch.of([rec(1, ts=TS)])
    bad = BulkResponse(400, {"error": {"type": "illegal_argument_exception", "reason": "no"}})
    outcome = d.classify(batch, d.encode(batch), bad)
    assert isinstance(outcome, DontRetry)
    doc = es_failure_formatter(d)(outcome.rejected[0], 1, TS)
    assert doc["errorCode"] == "400"
    assert json.loads(doc["errorMessage"]) == {"type": "illegal_argument_exception",
                                               "reason": "no"}


def test_a_document_that_never_reached_elasticsearch_as_one_json_line() -> None:
    d = dest()
    rejected = Rejected(rec(12, b"not json", ts=TS), "invalid_json", "the value is not JSON")
    line = to_backup_record(rejected, 1, TS + 1, es_failure_formatter(d)).value
    assert line is not None and b"\n" not in line
    doc = json.loads(line)
    assert list(doc) == FIREHOSE_FIELDS
    assert (doc["errorCode"], doc["errorMessage"]) == ("invalid_json", "the value is not JSON")
    assert doc["esIndexName"] == "ticks-2027-w01" and doc["esDocumentId"] == "t+0+12"
    assert base64.b64decode(doc["rawData"]) == b"not json"


# -- the intended id and the raw data ---------------------------------------------------------

def field_dest() -> ElasticsearchDestination:
    return ElasticsearchDestination("http://127.0.0.1:9", "orders",
                                    document_id=DocumentIdStrategy.FIELD,
                                    document_id_field="order_id")


def test_the_failure_document_names_the_intended_id() -> None:
    d = field_dest()
    request = d.encode(Batch.of([rec(1, b'{"order_id":"o-9","n":1}'), rec(2, b'{"n":2}')]))
    fmt = es_failure_formatter(d)
    from connectors.core import Rejected

    ok = fmt(Rejected(request.items[0], "RetriesExhausted", "down"), 3, 5)
    assert ok["esDocumentId"] == "o-9"
    missing = fmt(request.invalid[0], 1, 5)
    assert missing["esDocumentId"] == "" and missing["errorCode"] == "missing_document_id_field"


BULK_BATCH = Batch.of([
    rec(10, b'{"ticker":"AMZN","p":1}', key=b"AMZN|1700000000000"),
    rec(11, b'{"ticker":"AMZN",\n "p":2}', key=b"AMZN|1700000001000"),
    rec(12, b"not json", key=b"bad"),
    rec(13, b'{"ticker":"MSFT","p":3}', key=b"MSFT|1700000000000"),
])


def offset_dest(strategy: DocumentIdStrategy = DocumentIdStrategy.OFFSET
                ) -> ElasticsearchDestination:
    return ElasticsearchDestination("http://127.0.0.1:9", "ticks", document_id=strategy)


def test_failure_document_has_firehose_fields() -> None:
    d = offset_dest()
    doc = es_failure_formatter(d)(Rejected(BULK_BATCH.records[2], "invalid_json", "nope"), 1, 99)
    assert doc["rawData"] == "bm90IGpzb24="  # base64("not json")
    assert doc["esDocumentId"] == "t+0+12" and doc["esIndexName"] == "ticks"
    assert set(doc) >= {"attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage",
                        "attemptEndingTimestamp", "esTypeName"}
