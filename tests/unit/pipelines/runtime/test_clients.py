"""The runtime's client settings: what exactly-once and the restore depend on."""

from __future__ import annotations

import pytest

from ground.kafka_config import KafkaConfig
from pipelines.runtime import RuntimeConfig
from pipelines.runtime.clients import (
    CONSUMER_FETCH_CONFIG,
    changelog_configs,
    consumer_config,
    producer_config,
)

B1 = KafkaConfig("b:1")


def test_the_group_consumer_reads_committed_and_commits_only_in_transactions() -> None:
    cfg = consumer_config(RuntimeConfig("app", ("in",), session_timeout_ms=10_000), B1, "cid")
    assert cfg["bootstrap.servers"] == "b:1"
    assert cfg["group.id"] == "app" and cfg["client.id"] == "cid"
    assert cfg["isolation.level"] == "read_committed"
    assert cfg["enable.auto.commit"] is False and cfg["enable.auto.offset.store"] is False
    assert cfg["enable.partition.eof"] is True  # idle detection needs end events
    assert cfg["partition.assignment.strategy"] == "cooperative-sticky"
    assert cfg["heartbeat.interval.ms"] == 2_500
    assert {k: cfg[k] for k in CONSUMER_FETCH_CONFIG} == CONSUMER_FETCH_CONFIG
    assert cfg["fetch.queue.backoff.ms"] == 20


@pytest.mark.parametrize(
    ("position", "reset"), [("NOW", "latest"), ("TRIM_HORIZON", "earliest"),
                            ("LAST_STOPPED_POINT", "earliest")],
)  # fmt: skip
def test_the_starting_position_sets_where_a_group_without_offsets_starts(
    position: str, reset: str
) -> None:
    cfg = consumer_config(RuntimeConfig("app", ("in",), starting_position=position), B1, "c")
    assert cfg["auto.offset.reset"] == reset


def test_the_producer_is_transactional_and_takes_the_largest_record() -> None:
    cfg = producer_config(RuntimeConfig("app", ("in",), transaction_timeout_ms=20_000), B1, "t-1")
    assert cfg["transactional.id"] == "t-1"
    assert cfg["transaction.timeout.ms"] == cfg["message.timeout.ms"] == 20_000
    assert cfg["message.max.bytes"] == 1_004_096
    big = producer_config(RuntimeConfig("app", ("in",), max_message_bytes=3_000_000), B1, "t")
    assert big["message.max.bytes"] == 3_004_096
    small = producer_config(RuntimeConfig("app", ("in",), max_message_bytes=1_000), B1, "t")
    assert small["message.max.bytes"] == 1_000_000  # never below librdkafka's default


def test_changelog_consumers_share_a_private_group_and_differ_in_isolation() -> None:
    reader, probe = changelog_configs(B1, "app")
    assert reader["group.id"] == probe["group.id"]
    assert reader["group.id"].startswith("app-restore-")
    assert reader["group.id"] != changelog_configs(B1, "app")[0]["group.id"]
    assert reader["isolation.level"] == "read_committed"
    assert probe["isolation.level"] == "read_uncommitted"  # the high watermark, not the LSO
    assert reader["auto.offset.reset"] == "earliest" and reader["enable.partition.eof"] is True
    assert not reader["enable.auto.commit"] and not probe["enable.auto.commit"]


def test_every_client_takes_the_deployments_properties_but_not_over_its_guarantees() -> None:
    kafka = B1.with_properties({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
                                "sasl.username": "u", "sasl.password": "p",
                                "isolation.level": "read_uncommitted",
                                "fetch.queue.backoff.ms": "50"}, "test")
    runtime = RuntimeConfig("app", ("in",))
    consumer = consumer_config(runtime, kafka, "c")
    producer = producer_config(runtime, kafka, "t")
    reader, probe = changelog_configs(kafka, "app")
    for cfg in (consumer, producer, reader, probe):
        assert cfg["security.protocol"] == "SASL_SSL" and cfg["sasl.password"] == "p"
    assert consumer["isolation.level"] == reader["isolation.level"] == "read_committed"
    assert consumer["fetch.queue.backoff.ms"] == "50"  # tuning: the deployment's wins
