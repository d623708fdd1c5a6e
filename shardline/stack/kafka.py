"""Apache Kafka, one node in KRaft combined mode (broker + controller), jars from Maven Central.

With ``settings.stack_secure`` (``shardline stack up --secure``) it also listens for
SASL_SSL clients on ``SHARDLINE_KAFKA_SECURE_PORT`` (SCRAM-SHA-512 over TLS, see
:mod:`shardline.stack.kafka_secure`), beside the plain listener.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from ground.errors import BrokerUnavailableError, KafkaSecurityError, StackError
from ground.kafka import upsert_scram_user, wait_for_broker
from ground.kafka_config import KafkaConfig
from shardline.stack.component import Component, Health
from shardline.stack.kafka_secure import (
    LISTENER,
    SCRAM_MECHANISM,
    SCRAM_USER,
    SecureFiles,
    ensure_secure_files,
    listener_properties,
)
from shardline.stack.maven import copy_dependencies
from shardline.stack.preflight import Java, PortClaim, find_java, require_tool
from shardline.stack.process import Launch, run_checked
from shardline.stack.progress import Reporter
from shardline.stack.versions import KAFKA_VERSION, kafka_coordinates

__all__ = ["KafkaComponent", "log4j2_properties", "new_cluster_id", "server_properties"]

HEAP = "512m"
NODE_ID = 1
#: how long a new SCRAM credential may take to reach the secured listener
SCRAM_READY_TIMEOUT_S = 30.0


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 chars)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def server_properties(
    *,
    host: str,
    port: int,
    controller_port: int,
    log_dir: Path,
    secure_port: int | None = None,
    secure: Mapping[str, str] | None = None,
) -> str:
    """``server.properties`` of a single combined broker+controller on ``host``; with
    ``secure_port``, a SASL_SSL listener there too, configured by the ``secure`` lines."""
    listeners = f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if secure_port is not None:
        listeners += f",{LISTENER}://{host}:{secure_port}"
        protocols += f",{LISTENER}:{LISTENER}"
    props = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.bootstrap.servers": f"{host}:{controller_port}",
        "listeners": listeners,
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": protocols,
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
        **(secure or {}),
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

    @property
    def secure_dir(self) -> Path:
        """The secured listener's CA, certificate and client properties."""
        return self.dir / "secure"

    @property
    def secure_bootstrap(self) -> str:
        return f"{self.host}:{self.settings.kafka_secure_port}"

    @property
    def plain(self) -> KafkaConfig:
        """The stack's own plain listener (for its admin work), whatever clients use."""
        return KafkaConfig(f"{self.host}:{self.settings.kafka_port}")

    def ports(self) -> list[PortClaim]:
        claims = [
            PortClaim(self.name, self.host, self.settings.kafka_port, "SHARDLINE_KAFKA_BOOTSTRAP"),
            PortClaim(
                self.name,
                self.host,
                self.settings.kafka_controller_port,
                "SHARDLINE_KAFKA_CONTROLLER_PORT",
            ),
        ]
        if self.settings.stack_secure:
            claims.append(PortClaim(self.name, self.host, self.settings.kafka_secure_port,
                                    "SHARDLINE_KAFKA_SECURE_PORT"))
        return claims

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
        secure: dict[str, str] | None = None
        if self.settings.stack_secure:
            with reporter.step(self.name, "certificates and SCRAM user of the SASL_SSL listener"):
                files = ensure_secure_files(self.secure_dir, self.host,
                                            self.settings.kafka_secure_port)
                secure = listener_properties(files)
        # Regenerated each time, so a changed port setting applies on the next `up`.
        self.config.write_text(
            server_properties(
                host=self.host,
                port=self.settings.kafka_port,
                controller_port=self.settings.kafka_controller_port,
                log_dir=self.data,
                secure_port=self.settings.kafka_secure_port if secure is not None else None,
                secure=secure,
            )
        )
        self.config.chmod(0o600)  # it holds the broker's private key when secured
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
            md = wait_for_broker(self.settings.kafka, timeout_s=timeout_s)
        except BrokerUnavailableError:
            return Health(False, "no metadata")
        except KafkaSecurityError as exc:
            return Health(False, f"refused: {exc.setting}")
        return Health(True, f"{len(md.brokers)} broker(s), {len(md.topics)} topic(s)")

    def ready(self) -> None:
        """Secured: create the SCRAM user (or reset its password) through the plain
        listener, then wait until the SASL_SSL listener takes it."""
        if not self.settings.stack_secure:
            return
        if f"{LISTENER}://" not in (self.config.read_text() if self.config.exists() else ""):
            raise StackError(
                "kafka is running without its SASL_SSL listener: restart it with "
                "`shardline stack down kafka` and `shardline stack up --secure`"
            )
        files = ensure_secure_files(self.secure_dir, self.host, self.settings.kafka_secure_port)
        upsert_scram_user(self.plain, SCRAM_USER, files.password, SCRAM_MECHANISM)
        client = files.client(self.secure_bootstrap)
        deadline = time.monotonic() + SCRAM_READY_TIMEOUT_S
        while True:
            try:
                wait_for_broker(client, timeout_s=5.0)
                return
            except (KafkaSecurityError, BrokerUnavailableError) as exc:
                if time.monotonic() >= deadline:
                    raise StackError(f"kafka's SASL_SSL listener at {self.secure_bootstrap} "
                                     f"does not take its SCRAM user: {exc}") from None
                time.sleep(0.5)

    def secure_files(self) -> SecureFiles:
        """The secured listener's files (made if missing)."""
        return ensure_secure_files(self.secure_dir, self.host, self.settings.kafka_secure_port)
