from __future__ import annotations

import base64
from pathlib import Path

from ground.settings import Settings
from shardline.stack.kafka import (
    KafkaComponent,
    log4j2_properties,
    new_cluster_id,
    server_properties,
)
from shardline.stack.preflight import Java


def parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def test_server_properties_single_combined_node(tmp_path: Path) -> None:
    props = parse(
        server_properties(host="127.0.0.1", port=29092, controller_port=29093, log_dir=tmp_path)
    )
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path)
    assert props["group.initial.rebalance.delay.ms"] == "0"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "1", key


def test_log4j_config_logs_to_console() -> None:
    text = log4j2_properties()
    assert "appender.stdout.type = Console" in text
    assert "rootLogger.appenderRef.stdout.ref = STDOUT" in text


def test_cluster_id_is_16_urlsafe_bytes() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cid in ids:
        assert len(cid) == 22 and "=" not in cid
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_component_paths_ports_and_launch(settings: Settings, tmp_path: Path) -> None:
    comp = KafkaComponent(settings, {})
    comp._java = Java(home=tmp_path / "jdk", major=17)
    assert comp.dir == settings.home / "kafka"
    assert comp.libs.parent.name == "kafka-4.3.1" and comp.libs.is_relative_to(comp.cache)
    assert [(c.port, c.setting) for c in comp.ports()] == [
        (39192, "SHARDLINE_KAFKA_BOOTSTRAP"),
        (39193, "SHARDLINE_KAFKA_CONTROLLER_PORT"),
    ]
    launch = comp.launch()
    assert launch.argv[0] == str(tmp_path / "jdk" / "bin" / "java")
    assert launch.argv[-2:] == ("kafka.Kafka", str(comp.config))
    cp = launch.argv[launch.argv.index("-cp") + 1]
    assert cp == f"{comp.libs}/*"
    assert "-Xmx512m" in launch.argv
    assert launch.user is None
