"""The multi-node KRaft cluster: one node per bootstrap entry, three replicas, min ISR 2."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ground.settings import Settings
from shardline.stack import Stack
from shardline.stack.kafka import KafkaComponent
from shardline.stack.kafka_cluster import (
    KafkaNode,
    cluster_properties,
    kafka_components,
    node_addresses,
)
from shardline.stack.preflight import Java

BOOTSTRAP = "127.0.0.1:39192,127.0.0.1:39193,127.0.0.1:39194"


def parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def three(settings: Settings) -> Settings:
    return replace(settings, kafka=settings.kafka.with_bootstrap(BOOTSTRAP),
                   kafka_controller_port=39195)


def test_one_bootstrap_entry_is_the_single_node(settings: Settings) -> None:
    (only,) = kafka_components(settings, {})
    assert type(only) is KafkaComponent and only.name == "kafka"


def test_each_node_has_its_ports_folder_and_pid_file(settings: Settings) -> None:
    nodes = kafka_components(three(settings), {})
    assert [n.name for n in nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    assert all(isinstance(n, KafkaNode) for n in nodes)
    assert [[c.port for c in n.ports()] for n in nodes] == [
        [39192, 39195], [39193, 39196], [39194, 39197]]
    assert len({n.dir for n in nodes}) == 3 and len({n.pid_file.path for n in nodes}) == 3
    assert [n.endpoint for n in nodes] == BOOTSTRAP.split(",")
    assert node_addresses(three(settings))[2] == ("127.0.0.1", 39194, 39197)


def test_three_nodes_replicate_every_topic_three_times(tmp_path: Path) -> None:
    nodes = [("127.0.0.1", 9092 + i, 9095 + i) for i in range(3)]
    props = parse(cluster_properties(node_id=2, nodes=nodes, log_dir=tmp_path))
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == \
        "1@127.0.0.1:9095,2@127.0.0.1:9096,3@127.0.0.1:9097"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:9096"
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor"):
        assert props[key] == "3", key
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"
    assert props["unclean.leader.election.enable"] == "false"


def test_nodes_run_with_a_smaller_heap(settings: Settings, tmp_path: Path) -> None:
    node = kafka_components(three(settings), {})[0]
    node._java = Java(home=tmp_path / "jdk", major=17)  # type: ignore[attr-defined]
    argv = node.launch().argv
    assert "-Xmx384m" in argv and "-Xmx512m" not in argv


def test_kafka_selects_every_node(settings: Settings) -> None:
    stack = Stack(three(settings), env={})
    assert [c.name for c in stack.select(["kafka"])] == ["kafka-1", "kafka-2", "kafka-3"]
    assert [c.name for c in stack.select(["kafka-2", "minio"])] == ["kafka-2", "minio"]
