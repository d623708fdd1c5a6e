"""Pytest plugin: private servers a fault test may kill, stop and restart.

The shared stack must never be disturbed (other tests use it at the same time), so the
fault suite's broker and MinIO outages happen on servers of their own: the same components
(:mod:`shardline.stack`), in their own home and on their own ports, started only when a test
asks for them and stopped at the end of the session only if this session started them.

- ``private_kafka`` (session): a one-node KRaft Kafka on ``SHARDLINE_IT_PRIVATE_KAFKA_PORT``
  (default 29092; controller port + 1).
- ``private_minio`` (session): a MinIO on ``SHARDLINE_IT_PRIVATE_S3_PORT`` (default 29000;
  console port + 1), with the stack's credentials.

Each is a :class:`PrivateServer`: ``settings`` (the stack's settings with this server's
endpoint), ``kill9()`` (SIGKILL by the pid its pid file records, and nothing else), ``stop()``
and ``start()`` (same data folder; waits until healthy).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from shardline.settings import Settings
from shardline.stack import Stack
from shardline.stack.component import Component, ComponentState
from shardline.stack.kafka import KafkaComponent
from shardline.stack.minio import MinioComponent

__all__ = ["PrivateServer", "private_kafka", "private_minio"]

log = logging.getLogger(__name__)

ENV = "SHARDLINE_IT_PRIVATE_"


class PrivateServer:
    """One server of a private stack (one component in its own home)."""

    def __init__(self, settings: Settings, component: type[Component]) -> None:
        self.settings = settings
        self.stack = Stack(settings, components=(component(settings, dict(os.environ)),))
        self.name = next(iter(self.stack.components))
        self.started = False

    def pid(self) -> int | None:
        status = self.stack.status([self.name])[0]
        return status.pid if status.state in (ComponentState.RUNNING,
                                              ComponentState.STARTING) else None

    def start(self) -> float:
        """Start (or restart on the same data) and wait until healthy; returns seconds."""
        t0 = time.monotonic()
        if self.stack.up([self.name]):
            self.started = True
        return time.monotonic() - t0

    def kill9(self) -> None:
        pid = self.pid()
        assert pid is not None, f"private {self.name} is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while self.pid() is not None:
            assert time.monotonic() < deadline, f"private {self.name} ({pid}) did not die"
            time.sleep(0.1)

    def stop(self) -> None:
        self.stack.down([self.name])

    def close(self) -> None:
        if self.started:
            self.stack.down([self.name])


def _private_settings(stack_settings: Settings, name: str) -> Settings:
    return replace(stack_settings, home=stack_settings.home / f"it-private-{name}")


@pytest.fixture(scope="session")
def private_kafka(stack_settings: Settings) -> Iterator[PrivateServer]:
    port = int(os.environ.get(ENV + "KAFKA_PORT", "29092"))
    settings = replace(
        _private_settings(stack_settings, "kafka"),
        kafka_bootstrap=f"127.0.0.1:{port}", kafka_controller_port=port + 1,
    )
    server = PrivateServer(settings, KafkaComponent)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def private_minio(stack_settings: Settings) -> Iterator[PrivateServer]:
    port = int(os.environ.get(ENV + "S3_PORT", "29000"))
    settings = replace(
        _private_settings(stack_settings, "minio"),
        s3_endpoint=f"http://127.0.0.1:{port}", s3_console_port=port + 1,
    )
    server = PrivateServer(settings, MinioComponent)
    try:
        server.start()
        yield server
    finally:
        server.close()
