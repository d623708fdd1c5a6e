"""``document_id: field``: the Elasticsearch ``_id`` taken from a top-level JSON field, so an
application-level duplicate (same id, new offset) is one document; its config validation, its
per-record failure, and ``Shardline.DocumentIdField`` in Firehose's layout."""

import json
from typing import Any

import pytest

from connectors import DeliveryConfig, build_core
from connectors.elasticsearch import ElasticsearchConfig
from connectors.core import Batch
from connectors.elasticsearch import (
    DocumentIdStrategy,
    ElasticsearchDestination,
    es_failure_formatter,
)
from connectors.firehose_layout import delivery_from_firehose
from ground.errors import ConfigError
from ground.settings import Settings
from tests.unit.connectors.helpers import rec


def dest() -> ElasticsearchDestination:
    return ElasticsearchDestination("http://127.0.0.1:9", "orders",
                                    document_id=DocumentIdStrategy.FIELD,
                                    document_id_field="order_id")


def es(**section: Any) -> DeliveryConfig:
    return DeliveryConfig.from_mapping(
        {"name": "d", "topic": "t", "elasticsearch": {"index": "i", **section}})


def test_ids_come_from_the_field_and_a_resend_gets_the_same_id() -> None:
    batch = Batch.of([
        rec(1, b'{"order_id":"o-1","n":1}'),
        rec(2, b'{"order_id":17,\n "n":2}'),
        rec(3, b'{"order_id":"o-1","n":1}'),  # the producer sent o-1 again
    ])
    request = dest().encode(batch)
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
    request = dest().encode(Batch.of([rec(1, b'{"order_id":"ok"}'), rec(2, value)]))
    assert [r.offset for r in request.items] == [1]
    [rejected] = request.invalid
    assert rejected.record.offset == 2
    assert rejected.error_code == "missing_document_id_field"
    assert "'order_id'" in rejected.error_message


def test_not_json_is_still_invalid_json() -> None:
    request = dest().encode(Batch.of([rec(1, b"not json")]))
    assert request.invalid[0].error_code == "invalid_json"


def test_the_failure_document_names_the_intended_id() -> None:
    d = dest()
    request = d.encode(Batch.of([rec(1, b'{"order_id":"o-9","n":1}'), rec(2, b'{"n":2}')]))
    fmt = es_failure_formatter(d)
    from connectors.core import Rejected

    ok = fmt(Rejected(request.items[0], "RetriesExhausted", "down"), 3, 5)
    assert ok["esDocumentId"] == "o-9"
    missing = fmt(request.invalid[0], 1, 5)
    assert missing["esDocumentId"] == "" and missing["errorCode"] == "missing_document_id_field"


def test_the_destination_needs_the_field_with_the_strategy_only() -> None:
    with pytest.raises(ValueError, match="document_id_field"):
        ElasticsearchDestination("http://x", "i", document_id=DocumentIdStrategy.FIELD)
    with pytest.raises(ValueError, match="document_id_field"):
        ElasticsearchDestination("http://x", "i", document_id_field="id")


def test_config_and_build() -> None:
    cfg = es(document_id="field", document_id_field="order_id")
    assert isinstance(cfg.destination, ElasticsearchConfig)
    assert cfg.destination.document_id is DocumentIdStrategy.FIELD
    assert cfg.destination.document_id_field == "order_id"
    core = build_core(cfg, Settings.from_env({}))
    assert isinstance(core.destination, ElasticsearchDestination)
    assert core.destination.document_id_field == "order_id"


@pytest.mark.parametrize(("section", "message"), [
    ({"document_id": "field"}, r"^elasticsearch\.document_id_field: is required"),
    ({"document_id": "field", "document_id_field": ""},
     r"^elasticsearch\.document_id_field: must not be empty"),
    ({"document_id": "field", "document_id_field": 3},
     r"^elasticsearch\.document_id_field: expected a string"),
    ({"document_id_field": "order_id"},
     r"^elasticsearch\.document_id_field: only with document_id: field, not 'offset'"),
    ({"document_id": "record_key", "document_id_field": "order_id"},
     r"^elasticsearch\.document_id_field: only with document_id: field, not 'record_key'"),
])
def test_config_errors_name_the_field(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        es(**section)


def test_firehose_layout_document_id_field() -> None:
    doc = {
        "DeliveryStreamName": "orders-es",
        "Shardline": {"Topic": "orders", "DocumentId": "field", "DocumentIdField": "order_id"},
        "AmazonopensearchserviceDestinationConfiguration": {
            "RoleARN": "arn:aws:iam::123456789012:role/firehose", "IndexName": "orders"},
    }
    dest_cfg = delivery_from_firehose(doc).destination
    assert isinstance(dest_cfg, ElasticsearchConfig)
    assert dest_cfg.document_id is DocumentIdStrategy.FIELD
    assert dest_cfg.document_id_field == "order_id"
    del doc["Shardline"]["DocumentIdField"]
    with pytest.raises(ConfigError, match=r"^Shardline\.DocumentIdField: is required"):
        delivery_from_firehose(doc)
