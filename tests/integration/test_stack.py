"""The embedded stack, end to end: every server answers, status and up behave."""

from __future__ import annotations

import os
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from ground.kafka import ensure_topics, partition_count, wait_for_broker
from ground.settings import Settings
from shardline.cli import main
from shardline.stack import ComponentState, Stack
from shardline.stack.component import http_json

pytestmark = pytest.mark.integration

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_status_shows_all_four_healthy_with_ports(stack_settings: Settings) -> None:
    statuses = {s.name: s for s in Stack(stack_settings).status()}
    assert set(statuses) == {"kafka", "minio", "search", "registry"}
    expected_ports = {
        "kafka": [stack_settings.kafka_port, stack_settings.kafka_controller_port],
        "minio": [stack_settings.s3_port, stack_settings.s3_console_port],
        "search": [stack_settings.search_port, stack_settings.search_transport_port],
        "registry": [stack_settings.schema_registry_port],
    }
    for name, status in statuses.items():
        assert status.healthy, (name, status.state, status.health)
        assert list(status.ports.values()) == expected_ports[name]
        if status.state is ComponentState.RUNNING:
            assert status.pid is not None
            os.kill(status.pid, 0)  # alive
            assert status.log_path is not None and status.log_path.stat().st_size > 0
        else:
            assert status.state is ComponentState.EXTERNAL and status.pid is None


def test_up_again_is_a_noop(stack_settings: Settings) -> None:
    stack = Stack(stack_settings)
    ours = {s.name: s.pid for s in stack.status() if s.state is ComponentState.RUNNING}
    if not ours:
        pytest.skip("the stack at these endpoints was not started from this home")
    assert stack.up(list(ours)) == ()
    assert {s.name: s.pid for s in stack.status() if s.name in ours} == ours


def test_cli_status(stack_settings: Settings) -> None:
    result = CliRunner().invoke(main, ["stack", "status"])
    assert result.exit_code == 0, result.output
    assert str(stack_settings.kafka_port) in result.output
    assert "stopped" not in result.output


def test_kafka_metadata_answers(stack_settings: Settings) -> None:
    md = wait_for_broker(stack_settings.kafka, timeout_s=10)
    assert md.brokers
    topic = f"stack-it-{uuid.uuid4().hex[:8]}"
    ensure_topics(stack_settings.kafka, [topic], 3)
    assert partition_count(stack_settings.kafka, topic) == 3


def test_minio_health(stack_settings: Settings) -> None:
    with NO_PROXY.open(f"{stack_settings.s3_endpoint}/minio/health/live", timeout=5) as resp:
        assert resp.status == 200


def test_search_cluster_health(stack_settings: Settings) -> None:
    body = http_json(f"{stack_settings.search_url}/_cluster/health", 5)
    assert isinstance(body, dict)
    assert body["status"] in ("green", "yellow")
    assert body["number_of_nodes"] == 1


def test_registry_serves_the_confluent_api_on_loopback(stack_settings: Settings) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    url = stack_settings.local_schema_registry_url
    assert url.startswith("http://127.0.0.1:")
    assert "AVRO" in SchemaRegistryClient({"url": url}).get_schema_types()


def test_search_runs_unprivileged(stack_settings: Settings) -> None:
    status = Stack(stack_settings).status(["search"])[0]
    if status.pid is None or os.geteuid() != 0:
        pytest.skip("only checked for a search engine started by root from this home")
    uid_line = next(
        line
        for line in Path(f"/proc/{status.pid}/status").read_text().splitlines()
        if line.startswith("Uid:")
    )
    assert int(uid_line.split()[1]) != 0
