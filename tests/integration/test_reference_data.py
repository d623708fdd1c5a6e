"""Reference data from the real MinIO: upload objects, load them as tables, compare."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from ground.errors import ConfigError
from ground.settings import Settings
from pipelines.sql.appconfig import ApplicationConfig, ReferenceDataSource
from pipelines.sql.reference import load_reference_table, load_reference_tables
from pipelines.sql.types import Timestamp
from tests.integration.fixtures_sinks import s3_client
from tests.timestamps import HOUR_MS, SECOND_MS, recent_ms

pytestmark = pytest.mark.integration

# LISTED: a whole second, the epoch, and one with milliseconds (1,000 days before the session)
COMPANIES = [("AMZN", "Amazon", 1994, Timestamp(recent_ms(SECOND_MS))),
             ("XYZ", "Some, Company", 2001, Timestamp(0)),
             ("ABC", "A \"quoted\" name", 1850,
              Timestamp(recent_ms(SECOND_MS, ago_ms=1_000 * 24 * HOUR_MS) + 123))]


def config(bucket: str, *sources: dict[str, Any]) -> ApplicationConfig:
    return ApplicationConfig.from_mapping({
        "ApplicationName": "refdata-test",
        "Inputs": [{
            "NamePrefix": "SOURCE_SQL_STREAM", "Topic": "in",
            "InputSchema": {"RecordFormat": {"RecordFormatType": "JSON"},
                            "RecordColumns": [{"Name": "A", "SqlType": "INTEGER",
                                               "Mapping": "$.a"}]},
        }],
        "ReferenceDataSources": list(sources),
    }, ".", check_code=False)


def source(table: str, bucket: str, key: str, kind: str, **params: Any) -> dict[str, Any]:
    columns = [
        {"Name": "TICKER", "SqlType": "VARCHAR(4)"},
        {"Name": "Company", "SqlType": "VARCHAR(32)"},
        {"Name": "FOUNDED", "SqlType": "INTEGER"},
        {"Name": "LISTED", "SqlType": "TIMESTAMP"},
    ]
    if kind == "JSON":
        for col, path in zip(columns, ("$.ticker", "$.company", "$.founded", "$.listed"),
                             strict=True):
            col["Mapping"] = path
    mapping = {f"{kind}MappingParameters": params} if params else {}
    return {
        "TableName": table,
        "S3ReferenceDataSource": {"BucketARN": f"arn:aws:s3:::{bucket}", "FileKey": key},
        "ReferenceSchema": {
            "RecordFormat": {"RecordFormatType": kind, "MappingParameters": mapping},
            "RecordColumns": columns,
        },
    }


def put(settings: Settings, bucket: str, key: str, body: bytes) -> None:
    client = s3_client(settings)
    client.put_object(Bucket=bucket, Key=key, Body=body)
    client.close()


def load(ref: ReferenceDataSource, settings: Settings, **kw: Any) -> list[tuple[Any, ...]]:
    return asyncio.run(load_reference_table(ref, settings, **kw))


def csv_body() -> bytes:
    def field(v: Any) -> str:
        text = v.text() if isinstance(v, Timestamp) else str(v)
        return '"' + text.replace('"', '""') + '"' if ('"' in text or "," in text) else text

    lines = ["ticker,company,founded,listed"]
    lines += [",".join(field(v) for v in row) for row in COMPANIES]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_csv_and_json_reference_tables_load_as_written(
    stack_settings: Settings, bucket_factory: Callable[..., str]
) -> None:
    bucket = bucket_factory("refdata")
    put(stack_settings, bucket, "companies.csv", csv_body())
    objects = [{"ticker": t, "company": c, "founded": f, "listed": int(ts)}
               for t, c, f, ts in COMPANIES]
    put(stack_settings, bucket, "dir/companies.jsonl",
        "\n".join(json.dumps(o) for o in objects).encode())
    put(stack_settings, bucket, "companies.json", json.dumps(objects).encode())
    app = config(
        bucket,
        source("CSV_TABLE", bucket, "companies.csv", "CSV", SkipHeaderLines=1),
        source("JSONL_TABLE", bucket, "dir/companies.jsonl", "JSON"),
        source("JSON_TABLE", bucket, "companies.json", "JSON"),
    )
    assert load(app.reference_data_sources[0], stack_settings) == COMPANIES
    tables = asyncio.run(load_reference_tables(app, stack_settings))
    assert tables == {"CSV_TABLE": COMPANIES, "JSONL_TABLE": COMPANIES, "JSON_TABLE": COMPANIES}


def test_missing_object_or_bucket_names_the_field(
    stack_settings: Settings, bucket_factory: Callable[..., str]
) -> None:
    bucket = bucket_factory("refdata")
    app = config(bucket, source("T", bucket, "nope.csv", "CSV"),
                 source("U", "no-such-bucket-shardline-test", "x.csv", "CSV"))
    with pytest.raises(ConfigError) as err:
        load(app.reference_data_sources[0], stack_settings)
    assert err.value.field == "ReferenceDataSources[0].S3ReferenceDataSource.FileKey"
    with pytest.raises(ConfigError) as err:
        load(app.reference_data_sources[1], stack_settings)
    assert err.value.field == "ReferenceDataSources[1].S3ReferenceDataSource.BucketARN"


def test_objects_over_the_limit_and_bad_rows_are_refused(
    stack_settings: Settings, bucket_factory: Callable[..., str]
) -> None:
    bucket = bucket_factory("refdata")
    put(stack_settings, bucket, "big.csv", csv_body())
    put(stack_settings, bucket, "bad.csv", b"AMZN,Amazon,1994,0\nXYZ,Other,not-a-year,0\n")
    app = config(bucket, source("T", bucket, "big.csv", "CSV", SkipHeaderLines=1),
                 source("B", bucket, "bad.csv", "CSV"))
    with pytest.raises(ConfigError, match="too large") as err:
        load(app.reference_data_sources[0], stack_settings, max_bytes=10)
    assert err.value.field == "ReferenceDataSources[0].S3ReferenceDataSource.FileKey"
    with pytest.raises(ConfigError, match="row 2: Type_Coercion_Error") as err:
        load(app.reference_data_sources[1], stack_settings)
    assert err.value.field == "ReferenceDataSources[1].ReferenceSchema"
