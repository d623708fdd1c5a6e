"""Pytest plugin: a private Kafka of the local stack started secured (``secure_kafka``,
session scope).

``stack up --secure``'s Kafka — a SASL_SSL listener, a local CA, a SCRAM user — on ports of
its own under a temporary home (``SHARDLINE_IT_PRIVATE_SECURE_KAFKA_PORT`` to choose; the
controller port is the next one). The shared stack's Kafka is never touched. No test changes
or stops this server, so one start serves every module that asks for it (the Kafka security
tests and the secured end-to-end test); it is stopped by the pid its pid file records at the
end of the session.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from shardline.stack import Stack
from shardline.stack.kafka import KafkaComponent
from shardline.stack.kafka_secure import SecureFiles
from tests.integration.fixtures_private import _port_pair

__all__ = ["SecureKafka", "secure_kafka"]


@dataclass(frozen=True)
class SecureKafka:
    settings: Settings  # the shared stack's settings, Kafka through the secured listener
    files: SecureFiles
    log: Path  # the broker's log

    @property
    def env(self) -> dict[str, str]:
        """What a user sets: the secured listener and the stack's client file."""
        return {"SHARDLINE_KAFKA_BOOTSTRAP": self.settings.kafka.bootstrap,
                "SHARDLINE_KAFKA_CONFIG_FILE": str(self.files.client_properties)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def secure_kafka(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureKafka]:
    port = _port_pair("SECURE_KAFKA_PORT")
    home = tmp_path_factory.mktemp("secure-kafka")
    base = replace(stack_settings, home=home, kafka=KafkaConfig(f"127.0.0.1:{port}"),
                   kafka_controller_port=port + 1, kafka_secure_port=_free_port(),
                   stack_secure=True)
    component = KafkaComponent(base, dict(os.environ))
    stack = Stack(base, components=(component,))
    try:
        stack.up()  # stopped below by the pid its pid file records
        files = component.secure_files()
        secured = replace(stack_settings, kafka=files.client(component.secure_bootstrap))
        yield SecureKafka(secured, files, component.log_path)
    finally:
        stack.down()
