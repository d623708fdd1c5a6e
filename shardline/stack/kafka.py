"""Apache Kafka, one node in KRaft combined mode (broker + controller), jars from Maven Central."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from ground.errors import BrokerUnavailableError
from ground.kafka import wait_for_broker
from shardline.stack.component import Component, Health
from shardline.stack.maven import copy_dependencies
from shardline.stack.preflight import Java, PortClaim, find_java, require_tool
from shardline.stack.process import Launch, run_checked
from shardline.stack.progress import Reporter
from shardline.stack.versions import KAFKA_VERSION, kafka_coordinates

__all__ = ["KafkaComponent", "log4j2_properties", "new_cluster_id", "server_properties"]

HEAP = "512m"
NODE_ID = 1


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 chars)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def server_properties(*, host: str, port: int, controller_port: int, log_dir: Path) -> str:
    """``server.properties`` of a single combined broker+controller on ``host``."""
    listeners = f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}"
    props = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.bootstrap.servers": f"{host}:{controller_port}",
        "listeners": listeners,
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        # One node: every internal topic has a single replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def log4j2_properties() -> str:
    """Console logging at INFO (stdout goes to the component's log file)."""
    return (
        "status = error\n"
        "appender.stdout.type = Console\n"
        "appender.stdout.name = STDOUT\n"
        "appender.stdout.layout.type = PatternLayout\n"
        "appender.stdout.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRefs = stdout\n"
        "rootLogger.appenderRef.stdout.ref = STDOUT\n"
        "logger.kafka.name = kafka\n"
        "logger.kafka.level = INFO\n"
        "logger.state.name = state.change.logger\n"
        "logger.state.level = WARN\n"
    )


class KafkaComponent(Component):
    name = "kafka"
    health_timeout_s = 120.0

    _java: Java | None = None

    @property
    def description(self) -> str:
        return f"Kafka {KAFKA_VERSION}"

    @property
    def endpoint(self) -> str:
        return self.settings.kafka_bootstrap

    @property
    def host(self) -> str:
        return self.settings.kafka_bootstrap.split(",")[0].rpartition(":")[0]

    @property
    def libs(self) -> Path:
        return self.cache / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def config(self) -> Path:
        return self.dir / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.dir / "log4j2.properties"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def ports(self) -> list[PortClaim]:
        return [
            PortClaim(self.name, self.host, self.settings.kafka_port, "SHARDLINE_KAFKA_BOOTSTRAP"),
            PortClaim(
                self.name,
                self.host,
                self.settings.kafka_controller_port,
                "SHARDLINE_KAFKA_CONTROLLER_PORT",
            ),
        ]

    def preflight(self) -> None:
        self._java = find_java(self.env)
        if not self.libs.is_dir():
            require_tool("mvn", self.env, "download Kafka from Maven Central")

    def provision(self, reporter: Reporter) -> None:
        if not self.libs.is_dir():
            with reporter.step(self.name, f"resolving Kafka {KAFKA_VERSION} jars with Maven"):
                mvn = require_tool("mvn", self.env, "download Kafka from Maven Central")
                self.libs.parent.mkdir(parents=True, exist_ok=True)
                copy_dependencies(mvn, kafka_coordinates(), self.libs, self.env)
        self.dir.mkdir(parents=True, exist_ok=True)
        # Regenerated each time, so a changed port setting applies on the next `up`.
        self.config.write_text(
            server_properties(
                host=self.host,
                port=self.settings.kafka_port,
                controller_port=self.settings.kafka_controller_port,
                log_dir=self.data,
            )
        )
        self.log4j_config.write_text(log4j2_properties())
        if not (self.data / "meta.properties").exists():
            cluster_id = new_cluster_id()
            with reporter.step(self.name, "formatting storage"):
                run_checked(
                    [
                        *self._java_argv(),
                        "kafka.tools.StorageTool",
                        "format",
                        # one argument: an id starting with "-" (1 in 64) is not an option
                        f"--cluster-id={cluster_id}",
                        "-c",
                        str(self.config),
                        "--standalone",
                    ],
                    log_path=self.dir / "format.log",
                    env=self.env,
                    cwd=self.dir,
                    what="format Kafka storage",
                )

    def _java_argv(self) -> list[str]:
        java = self._java or find_java(self.env)
        return [
            str(java.binary),
            f"-Xms{HEAP}",
            f"-Xmx{HEAP}",
            f"-Dlog4j2.configurationFile={self.log4j_config}",
            "-cp",
            f"{self.libs}/*",  # expanded by java itself
        ]

    def launch(self) -> Launch:
        return Launch(
            argv=(*self._java_argv(), "kafka.Kafka", str(self.config)),
            env={},
            cwd=self.dir,
        )

    def probe(self, timeout_s: float = 2.0) -> Health:
        try:
            md = wait_for_broker(self.settings.kafka_bootstrap, timeout_s=timeout_s)
        except BrokerUnavailableError:
            return Health(False, "no metadata")
        return Health(True, f"{len(md.brokers)} broker(s), {len(md.topics)} topic(s)")
