"""A delivery stream written in Firehose's own layout, run on the real stack against
Elasticsearch 8 and OpenSearch 2: S3BackupMode AllDocuments puts every source record in S3
exactly once, failed documents (a real mapping error from the engine, and a non-JSON value)
go to the failure prefix in Firehose's format, and a replay adds nothing.
A describe-delivery-stream JSON with record format conversion lands in MinIO as Parquet
with its SerDe options applied.

Everything is read back with botocore and the engine's HTTP API, not with ``connectors``.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from confluent_kafka import Producer

from connectors import build_worker, load_deliveries, preflight
from ground.kafka import ensure_topics
from ground.settings import Settings
from tests.integration.fixtures_sinks import es_request, read_objects
from tests.integration.offsets import committed_and_end
from tests.integration.test_delivery import _objects
from tests.timestamps import recent_ms

pytestmark = pytest.mark.integration

N = 40
BAD_JSON = b"not json {"
MAPPING_ERROR = {"i": 38, "price": "not-a-number"}  # price is mapped as float
FAILED = "all/AmazonOpenSearchService-failed/"
# Elasticsearch 8 says document_parsing_exception where OpenSearch 2 (and ES 7) say
# mapper_parsing_exception: both HTTP 400 for the item, so both are permanent failures.
MAPPING_ERROR_TYPES = {"mapper_parsing_exception", "document_parsing_exception"}


def _stream_file(tmp_path: Path, topic: str, index: str, bucket: str) -> Path:
    doc = {
        "DeliveryStreamName": "it-firehose-layout",
        "DeliveryStreamType": "DirectPut",
        "AmazonopensearchserviceDestinationConfiguration": {
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "DomainARN": "arn:aws:es:us-east-1:123456789012:domain/test",
            "IndexName": index,
            "IndexRotationPeriod": "NoRotation",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
            "RetryOptions": {"DurationInSeconds": 60},
            "DocumentIdOptions": {"DefaultDocumentIdFormat": "FIREHOSE_DEFAULT"},
            "S3BackupMode": "AllDocuments",
            "S3Configuration": {"BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "all/",
                                "CompressionFormat": "GZIP"},
        },
        "Shardline": {"Topic": topic, "Group": f"{topic}-g1"},
    }
    path = tmp_path / "stream.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = Producer(settings.kafka.client_config())
    for value in values:
        producer.produce(topic, value=value, partition=0)
    assert producer.flush(30) == 0


def test_all_documents_backup_from_a_firehose_layout_file(
    search_settings: Settings, bucket_factory, index_factory, tmp_path: Path
) -> None:
    settings = search_settings
    topic = f"fh-layout-{uuid.uuid4().hex[:10]}"
    ensure_topics(settings.kafka, [topic], 1)
    bucket, index = bucket_factory("fh-layout"), index_factory("fh-layout")
    created = es_request(settings, "PUT", f"/{index}",
                         {"mappings": {"properties": {"price": {"type": "float"}}}})
    assert created.get("acknowledged") is True, created
    values = [json.dumps({"i": i, "price": i / 4}).encode() for i in range(N - 2)]
    values += [json.dumps(MAPPING_ERROR).encode(), BAD_JSON]
    _produce(settings, topic, values)

    path = _stream_file(tmp_path, topic, index, bucket)
    (config,) = load_deliveries(path)
    preflight(config, settings)
    assert build_worker(config, settings).run(until_idle_ms=3_000).records == N

    # The engine holds the N - 2 good documents, with Firehose-default (offset) ids.
    es_request(settings, "POST", f"/{index}/_refresh")
    hits = es_request(settings, "POST", f"/{index}/_search",
                      {"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
    assert sorted(h["_source"]["i"] for h in hits) == list(range(N - 2))
    assert {h["_id"] for h in hits} == {f"{topic}+0+{i}" for i in range(N - 2)}

    # AllDocuments: every source record, good or not, exactly once under the prefix.
    source = {k: v for k, v in _objects(settings, bucket, "all/").items()
              if not k.startswith(FAILED)}
    assert Counter(line for lines in source.values() for line in lines) == Counter(values)

    # The two failures in Firehose's failed-document format.
    failed = [json.loads(line) for lines in _objects(settings, bucket, FAILED).values()
              for line in lines]
    by_data = {base64.b64decode(f["rawData"]): f for f in failed}
    assert set(by_data) == {values[-2], values[-1]} and len(failed) == 2
    assert by_data[BAD_JSON]["errorCode"] == "invalid_json"
    mapping = by_data[values[-2]]
    assert mapping["errorCode"] == "400"
    assert json.loads(mapping["errorMessage"])["type"] in MAPPING_ERROR_TYPES
    assert mapping["esIndexName"] == index and mapping["esDocumentId"] == f"{topic}+0+{N - 2}"

    committed, end = committed_and_end(settings, f"{topic}-g1", topic, 1)
    assert committed == end



def test_all_documents_replay_adds_nothing(
    search_settings: Settings, bucket_factory, index_factory, tmp_path: Path
) -> None:
    """Replay from scratch (a new group): the source backup rewrites the same objects and the
    engine overwrites the same documents. A failed document's JSON holds wall-clock fields
    (attemptEndingTimestamp), so its replay differs: the failure backup keeps the first."""
    settings = search_settings
    topic = f"fh-replay-{uuid.uuid4().hex[:10]}"
    ensure_topics(settings.kafka, [topic], 1)
    bucket, index = bucket_factory("fh-replay"), index_factory("fh-replay")
    values = [json.dumps({"i": i, "price": i / 4}).encode() for i in range(N)] + [BAD_JSON]
    _produce(settings, topic, values)
    path = _stream_file(tmp_path, topic, index, bucket)
    (config,) = load_deliveries(path)
    preflight(config, settings)
    assert build_worker(config, settings).run(until_idle_ms=3_000).records == N + 1
    before = _objects(settings, bucket, "all/")
    failed = "all/AmazonOpenSearchService-failed/"
    assert Counter(line for key, lines in before.items() if not key.startswith(failed)
                   for line in lines) == Counter(values)
    assert sum(len(lines) for key, lines in before.items() if key.startswith(failed)) == 1

    doc = yaml.safe_load(path.read_text())
    doc["Shardline"]["Group"] = f"{topic}-g2"
    path.write_text(yaml.safe_dump(doc))
    (replay,) = load_deliveries(path)
    assert build_worker(replay, settings).run(until_idle_ms=3_000).records == N + 1
    assert _objects(settings, bucket, "all/") == before
    es_request(settings, "POST", f"/{index}/_refresh")
    assert es_request(settings, "GET", f"/{index}/_count")["count"] == N


def test_describe_output_with_record_format_conversion_lands_as_parquet(
    stack_settings: Settings, bucket_factory, tmp_path: Path
) -> None:
    """describe-delivery-stream JSON with DataFormatConversionConfiguration: the OpenX
    ColumnToJsonKeyMappings and the ParquetSerDe options (GZIP, no dictionary) reach the
    objects, read back with pyarrow from bytes botocore fetched."""
    settings = stack_settings
    topic = f"fh-parquet-{uuid.uuid4().hex[:10]}"
    ensure_topics(settings.kafka, [topic], 1)
    bucket = bucket_factory("fh-parquet")
    start = recent_ms()
    rows = [{"sym": f"T{i % 7}", "sector": "ENERGY", "change": i / 8, "price": 10 + i / 4,
             "event_time_ms": start + i} for i in range(N)]
    producer = Producer(settings.kafka.client_config())
    for row in rows:
        producer.produce(topic, value=json.dumps(row).encode(), partition=0)
    assert producer.flush(30) == 0
    description = {"DeliveryStreamDescription": {
        "DeliveryStreamName": "it-fh-parquet",
        "DeliveryStreamARN": "arn:aws:firehose:us-east-1:123456789012:deliverystream/x",
        "DeliveryStreamStatus": "ACTIVE",
        "DeliveryStreamType": "MSKAsSource",
        "VersionId": "1",
        "CreateTimestamp": "2026-11-22T10:00:00.000000+00:00",
        "Source": {"MSKSourceDescription": {
            "MSKClusterARN": "arn:aws:kafka:us-east-1:123456789012:cluster/c/1",
            "TopicName": topic,
            "AuthenticationConfiguration": {"RoleARN": "arn:aws:iam::1:role/r",
                                            "Connectivity": "PRIVATE"}}},
        "Destinations": [{
            "DestinationId": "destinationId-000000000001",
            "ExtendedS3DestinationDescription": {
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "Prefix": "parquet/", "ErrorOutputPrefix": "errors/",
                "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
                "CompressionFormat": "UNCOMPRESSED",
                "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
                "S3BackupMode": "Disabled",
                "DataFormatConversionConfiguration": {
                    "Enabled": True,
                    "SchemaConfiguration": {"DatabaseName": "db", "TableName": "ticker",
                                            "Region": "us-east-1", "VersionId": "LATEST"},
                    "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {
                        "CaseInsensitive": True,
                        "ColumnToJsonKeyMappings": {"ticker_symbol": "sym"}}}},
                    "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {
                        "Compression": "GZIP", "EnableDictionaryCompression": False,
                        "BlockSizeBytes": 268435456}}},
                },
            },
        }],
        "HasMoreDestinations": False,
    }}
    path = tmp_path / "stream.json"
    path.write_text(json.dumps(description))
    (config,) = load_deliveries(path)
    preflight(config, settings)
    assert build_worker(config, settings).run(until_idle_ms=3_000).records == N

    got: list[dict[str, object]] = []
    for key, lines in read_objects(settings, bucket, "parquet/").items():
        assert key.endswith(".parquet")
        meta = pq.ParquetFile(io.BytesIO(lines)).metadata
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                column = meta.row_group(g).column(c)
                assert column.compression == "GZIP"
                assert not any("DICTIONARY" in e for e in column.encodings), column.encodings
        got.extend(pq.read_table(io.BytesIO(lines)).to_pylist())
    expected = [{"ticker_symbol": r["sym"], "sector": r["sector"], "change": r["change"],
                 "price": r["price"], "event_time_ms": r["event_time_ms"]} for r in rows]
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, expected))
    assert read_objects(settings, bucket, "errors/") == {}
    committed, end = committed_and_end(settings, config.group_id, topic, 1)
    assert committed == end
