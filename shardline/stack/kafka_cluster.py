"""Apache Kafka as a KRaft cluster of several nodes on one host, for the local stack.

One node (the default) is :class:`~shardline.stack.kafka.KafkaComponent`. Give
``SHARDLINE_KAFKA_BOOTSTRAP`` several ``host:port`` entries and the stack runs one combined
broker+controller per entry instead: node ``i`` (from 1) listens on the ``i``-th port, its
controller on ``SHARDLINE_KAFKA_CONTROLLER_PORT + i - 1``, each in a folder of its own
(``<home>/kafka-<i>``) and under a component of its own (``kafka-<i>``: one can be stopped,
killed and restarted alone). For example, three brokers::

    SHARDLINE_KAFKA_BOOTSTRAP=127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094 \\
    SHARDLINE_KAFKA_CONTROLLER_PORT=19095 shardline stack up

With three or more nodes, every topic (internal ones included) has three replicas and
``min.insync.replicas`` 2, so losing one node loses nothing and stops nobody: its partitions'
leadership moves to a follower within the broker session timeout. The voters are static
(``controller.quorum.voters``); every node is formatted with one cluster id, kept in
``<home>/kafka-cluster.id``. A cluster listens in plaintext only (the secured SASL_SSL
listener of ``stack up --secure`` is the single node's).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ground.errors import BrokerUnavailableError, KafkaSecurityError
from ground.kafka import wait_for_broker
from ground.settings import Settings
from shardline.stack.component import Component, Health
from shardline.stack.kafka import HEAP, KafkaComponent, log4j2_properties, new_cluster_id
from shardline.stack.preflight import PortClaim
from shardline.stack.process import run_checked
from shardline.stack.progress import Reporter

__all__ = ["KafkaNode", "cluster_properties", "kafka_components", "node_addresses"]

#: each node's heap (three of them share the machine with everything else)
NODE_HEAP = "384m"
#: how long the controller waits for a silent broker before moving its leaderships (Kafka's
#: default is 9 s; on one host a dead node is dead, not slow)
BROKER_SESSION_TIMEOUT_MS = 4_000
BROKER_HEARTBEAT_INTERVAL_MS = 500


def node_addresses(settings: Settings) -> list[tuple[str, int, int]]:
    """``(host, port, controller port)`` of every node, in node-id order."""
    out = []
    for i, entry in enumerate(settings.kafka_bootstrap.split(",")):
        host, _, port = entry.strip().rpartition(":")
        out.append((host, int(port), settings.kafka_controller_port + i))
    return out


def cluster_properties(
    *, node_id: int, nodes: list[tuple[str, int, int]], log_dir: Path
) -> str:
    """``server.properties`` of node ``node_id`` (from 1) of a combined-mode cluster."""
    host, port, controller_port = nodes[node_id - 1]
    count = len(nodes)
    replicas = min(3, count)
    min_isr = max(1, replicas - 1)
    listeners = f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}"
    voters = ",".join(f"{i}@{h}:{c}" for i, (h, _p, c) in enumerate(nodes, start=1))
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "listeners": listeners,
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "unclean.leader.election.enable": "false",
        "broker.session.timeout.ms": str(BROKER_SESSION_TIMEOUT_MS),
        "broker.heartbeat.interval.ms": str(BROKER_HEARTBEAT_INTERVAL_MS),
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


class KafkaNode(KafkaComponent):
    """Node ``node_id`` of a multi-node cluster (a subclass per node names it)."""

    node_id: int = 1

    @property
    def description(self) -> str:
        return f"{super().description} node {self.node_id}/{len(self._nodes)}"

    @property
    def _nodes(self) -> list[tuple[str, int, int]]:
        return node_addresses(self.settings)

    @property
    def endpoint(self) -> str:
        host, port, _ = self._nodes[self.node_id - 1]
        return f"{host}:{port}"

    @property
    def host(self) -> str:
        return self._nodes[self.node_id - 1][0]

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "kafka-cluster.id"

    def ports(self) -> list[PortClaim]:
        host, port, controller = self._nodes[self.node_id - 1]
        return [
            PortClaim(self.name, host, port, "SHARDLINE_KAFKA_BOOTSTRAP"),
            PortClaim(self.name, host, controller, "SHARDLINE_KAFKA_CONTROLLER_PORT"),
        ]

    def _cluster_id(self) -> str:
        """One id for every node; the first node to be provisioned writes it."""
        path = self.cluster_id_file
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x") as fh:
                fh.write(new_cluster_id())
        except FileExistsError:
            pass
        return path.read_text().strip()

    def provision(self, reporter: Reporter) -> None:
        if not self.libs.is_dir():
            super().provision(reporter)  # resolves the jars (and writes a one-node config)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            cluster_properties(node_id=self.node_id, nodes=self._nodes, log_dir=self.data)
        )
        self.log4j_config.write_text(log4j2_properties())
        if not (self.data / "meta.properties").exists():
            with reporter.step(self.name, "formatting storage"):
                run_checked(
                    [
                        *self._java_argv(),
                        "kafka.tools.StorageTool",
                        "format",
                        f"--cluster-id={self._cluster_id()}",
                        "-c",
                        str(self.config),
                    ],
                    log_path=self.dir / "format.log",
                    env=self.env,
                    cwd=self.dir,
                    what=f"format Kafka storage of node {self.node_id}",
                )

    def _java_argv(self) -> list[str]:
        swap = {f"-Xms{HEAP}": f"-Xms{NODE_HEAP}", f"-Xmx{HEAP}": f"-Xmx{NODE_HEAP}"}
        return [swap.get(a, a) for a in super()._java_argv()]

    def probe(self, timeout_s: float = 2.0) -> Health:
        """Healthy once this node answers metadata and the cluster has every node."""
        try:
            md = wait_for_broker(self.settings.kafka.with_bootstrap(self.endpoint),
                                 timeout_s=timeout_s)
        except BrokerUnavailableError:
            return Health(False, "no metadata")
        except KafkaSecurityError as exc:
            return Health(False, f"refused: {exc.setting}")
        if len(md.brokers) < len(self._nodes):
            return Health(False, f"{len(md.brokers)} of {len(self._nodes)} brokers")
        return Health(True, f"node {self.node_id}: {len(md.brokers)} broker(s)")


def kafka_components(settings: Settings, env: Mapping[str, str]) -> tuple[Component, ...]:
    """The stack's Kafka: one :class:`KafkaComponent`, or a :class:`KafkaNode` per entry of
    ``SHARDLINE_KAFKA_BOOTSTRAP`` when it names several."""
    count = len(settings.kafka_bootstrap.split(","))
    if count == 1:
        return (KafkaComponent(settings, env),)
    nodes: list[Component] = []
    for i in range(1, count + 1):
        node = type(f"KafkaNode{i}", (KafkaNode,), {"name": f"kafka-{i}", "node_id": i})
        nodes.append(node(settings, env))
    return tuple(nodes)
