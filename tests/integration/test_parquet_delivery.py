"""Record format conversion end to end: a seeded topic of ticker JSON (with a few records that
cannot be converted) delivered to the real MinIO as Parquet.

Checked independently: every ``.parquet`` object is read back with pyarrow from bytes fetched
by botocore; its schema equals the one derived from ``schemas/ticker.avsc``; the rows equal the
input parsed here; the unconvertible records are under ``<error prefix>format-conversion-failed/``
in Firehose's envelope with their original bytes; offsets are committed to the end; a replay
from scratch rewrites the same objects.
"""

from __future__ import annotations

import base64
import io
import json
import random
import uuid
from collections import Counter
from typing import Any

import pyarrow.parquet as pq
import pytest
from confluent_kafka import Producer

from connectors import DeliveryConfig, build_worker, preflight
from connectors.s3 import schema_for
from ground.kafka import ensure_topics
from ground.settings import Settings
from tests.integration.fixtures_sinks import read_objects
from tests.integration.offsets import committed_and_end
from tests.timestamps import recent_ms

pytestmark = pytest.mark.integration

PARTITIONS = 3
N = 600
BAD = {  # position in the produced sequence → an unconvertible value
    17: b"not json \xff{",
    250: b'[{"ticker_symbol": "AMZN"}]',
    333: b'{"ticker_symbol": "AMZN", "price": "twelve"}',
    599: b'{"TICKER_SYMBOL": "X", "event_time_ms": {"nested": 1}}',
}


def _ticks(seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    start = recent_ms()
    values = []
    for i in range(N):
        row: dict[str, Any] = {
            "ticker_symbol": rnd.choice(["AMZN", "MSFT", "TBV", "QXZ"]),
            "sector": rnd.choice(["TECHNOLOGY", "ENERGY", "FINANCIAL"]),
            "change": round(rnd.uniform(-5, 5), 2),
            "price": round(rnd.uniform(1, 500), 2),
            "event_time_ms": start + i * 250,
        }
        if i % 50 == 3:  # OpenX rules: any-case keys, extra keys ignored, absent keys null
            row = {"Ticker_Symbol": row["ticker_symbol"], "PRICE": row["price"], "extra": [i]}
        values.append(BAD.get(i, json.dumps(row).encode()))
    return values


def _expected_row(value: bytes) -> dict[str, Any]:
    """The row Firehose's OpenX SerDe makes of a good record, computed without connectors."""
    doc = {k.lower(): v for k, v in json.loads(value).items()}
    return {c: doc.get(c) for c in ("ticker_symbol", "sector", "change", "price",
                                    "event_time_ms")}


def _produce(settings: Settings, topic: str, values: list[bytes]) -> list[tuple[bytes, int]]:
    producer = Producer(settings.kafka.client_config({"linger.ms": 5}))
    sent = []
    for i, value in enumerate(values):
        producer.produce(topic, key=f"k{i}".encode(), value=value, partition=i % PARTITIONS)
        sent.append((value, i % PARTITIONS))
    assert producer.flush(30) == 0
    return sent


def _config(topic: str, bucket: str, group: str) -> DeliveryConfig:
    return DeliveryConfig.from_mapping({
        "name": "it-parquet", "topic": topic, "group": group,
        "s3": {
            "bucket": bucket, "prefix": "converted/", "error_output_prefix": "errors/",
            "compression": "UNCOMPRESSED",
            "buffering": {"max_records": 70, "interval_ms": 60_000},
            "data_format_conversion": {"output_format": "PARQUET", "schema": "ticker",
                                       "compression": "SNAPPY"},
        },
    })


def _run(config: DeliveryConfig, settings: Settings) -> Any:
    preflight(config, settings)
    return build_worker(config, settings).run(until_idle_ms=3_000)


def test_ticker_json_lands_as_parquet_and_bad_records_under_format_conversion_failed(
    stack_settings: Settings, bucket_factory
) -> None:
    settings = stack_settings
    topic = f"parquet-{uuid.uuid4().hex[:10]}"
    ensure_topics(settings.kafka, [topic], PARTITIONS)
    values = _ticks(seed=4)
    _produce(settings, topic, values)
    bucket = bucket_factory("parquet")

    summary = _run(_config(topic, bucket, f"{topic}-g"), settings)
    assert summary.records == N

    objects = read_objects(settings, bucket, "converted/")
    assert objects and all(k.endswith(".parquet") for k in objects)
    assert all(f"/it-parquet-{topic}+" in k for k in objects)
    expected_schema = schema_for("ticker")
    rows: list[str] = []
    for body in objects.values():
        table = pq.read_table(io.BytesIO(body))
        assert table.schema.equals(expected_schema), table.schema
        assert pq.ParquetFile(io.BytesIO(body)).metadata.num_row_groups == 1
        rows.extend(json.dumps(r, sort_keys=True) for r in table.to_pylist())
    good = [v for i, v in enumerate(values) if i not in BAD]
    assert Counter(rows) == Counter(json.dumps(_expected_row(v), sort_keys=True) for v in good)

    errors = read_objects(settings, bucket, "errors/")
    assert errors and all(k.startswith("errors/format-conversion-failed/") for k in errors)
    docs = [json.loads(line) for body in errors.values() for line in body.splitlines()]
    assert Counter(base64.b64decode(d["rawData"]) for d in docs) == Counter(BAD.values())
    for doc in docs:
        assert doc["ErrorCode"] == "DataFormatConversion.MalformedData" and doc["ErrorMessage"]
        assert {"attemptsMade", "arrivalTimestamp", "attemptEndingTimestamp", "sequenceNumber",
                "subSequenceNumber", "dataCatalogTable"} <= set(doc)
        assert doc["dataCatalogTable"]["tableName"] == "ticker"

    committed, end = committed_and_end(settings, f"{topic}-g", topic, PARTITIONS)
    assert committed == end

    # A replay from scratch cuts the same batches and rewrites the same Parquet objects.
    assert _run(_config(topic, bucket, f"{topic}-replay"), settings).records == N
    assert read_objects(settings, bucket, "converted/") == objects
