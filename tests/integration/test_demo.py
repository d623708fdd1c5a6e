"""The demo end to end on the real stack: producer → the ticker-analytics KDA SQL application
→ MinIO + Elasticsearch, checked against DuckDB over the records in the input topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from ground.kafka import delete_topics_with_prefix
from ground.settings import Settings
from shardline.demo import DemoConfig, run_demo
from shardline.verify import read_topic
from tests.integration.offsets import committed_and_end

pytestmark = pytest.mark.integration


@pytest.fixture
def run_id(stack_settings: Settings) -> Iterator[str]:
    run_id = f"it-demo-{uuid.uuid4().hex[:8]}"
    yield run_id
    delete_topics_with_prefix(stack_settings.kafka, run_id)


def test_demo_end_to_end_matches_duckdb(stack_settings: Settings, run_id: str) -> None:
    partitions, malformed = 3, 4
    result = run_demo(
        stack_settings,
        DemoConfig(
            records=6_000,
            partitions=partitions,
            seed=11,
            malformed=malformed,
            run_id=run_id,
            start_stack=False,
        ),
    )
    assert result.windows_expected > 20
    for name, cmp in result.checks.items():
        assert cmp.ok, f"{name}: {cmp.describe()}"
        assert cmp.matched == result.windows_expected
    assert result.s3_objects >= 1
    assert result.search_docs == result.windows_expected
    # A disorder of 8 s against 5 s of allowed lateness makes late rows; the oracle counts
    # them independently, and each is an error row of its own kind.
    assert result.late_expected > 0
    assert result.error_names.get("Late_Row") == result.late_expected
    assert result.error_records == malformed + result.late_expected
    assert result.ok

    # Every malformed record is in error_stream with its original bytes (DATA_ROW).
    kafka = stack_settings.kafka
    inputs = {(r.partition, r.offset): r.value for r in read_topic(kafka, f"{run_id}.ticker")}
    error_topic = f"{run_id}.ticker-analytics-errors"
    errors = [json.loads(r.value) for r in read_topic(kafka, error_topic)]
    bad = [e for e in errors if e["ERROR_NAME"] != "Late_Row"]
    assert len(bad) == malformed
    for e in bad:
        assert e["ERROR_NAME"] in ("Malformed_Record", "Schema_Mismatch") and e["MESSAGE"]
        original = inputs[(e["SOURCE_PARTITION"], e["SOURCE_OFFSET"])]
        assert bytes.fromhex(e["DATA_ROW"]) == original

    # The worker committed the whole input before it stopped by itself (--until-idle).
    committed, end = committed_and_end(
        stack_settings, f"{run_id}.ticker-analytics", f"{run_id}.ticker", partitions
    )
    assert committed == end
