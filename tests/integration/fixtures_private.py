"""Pytest plugin: private servers a fault test may kill, stop and restart.

The shared stack must never be disturbed (other tests use it at the same time), so the
fault suite's broker and MinIO outages happen on servers of their own: the same components
(:mod:`shardline.stack`), in their own home and on their own ports, started only when a test
asks for them and stopped at the end of the session only if this session started them.

- ``private_kafka`` (session): a one-node KRaft Kafka on ``SHARDLINE_IT_PRIVATE_KAFKA_PORT``
  (default: a free port; controller port + 1).
- ``private_minio`` (session): a MinIO on ``SHARDLINE_IT_PRIVATE_S3_PORT`` (default: a free
  port; console port + 1), with the stack's credentials.

Each lives in a home of its own under the session's temporary folder (its data, logs and pid
file): two test sessions running at once on one machine each get their own servers, so one
session's ``kill9()`` can never reach the other's server (a fixed home shared the pid file,
and the second session killed the first one's broker).

Each is a :class:`PrivateServer`: ``settings`` (the stack's settings with this server's
endpoint), ``kill9()`` (SIGKILL by the pid its pid file records, and nothing else), ``stop()``
and ``start()`` (same data folder; waits until healthy).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ground.settings import Settings
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


def _private_settings(stack_settings: Settings, home: Path) -> Settings:
    return replace(stack_settings, home=home)


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out as a client's source port (Linux: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _port_pair(variable: str) -> int:
    """``SHARDLINE_IT_PRIVATE_<variable>``, or a free port whose next port is free too.

    Below the ephemeral range: a server the fault tests kill and restart must get its ports
    back, and a port from the ephemeral range may meanwhile be some client connection's
    source port (a restarted MinIO once found its console port taken that way)."""
    if os.environ.get(ENV + variable):
        return int(os.environ[ENV + variable])
    high = _ephemeral_low() - 2
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, high) if high > 20_000 else 0
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = int(s.getsockname()[1])
        if port < 65535:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise AssertionError("no two consecutive free ports")


@pytest.fixture(scope="session")
def private_kafka(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateServer]:
    port = _port_pair("KAFKA_PORT")
    settings = replace(
        _private_settings(stack_settings, tmp_path_factory.mktemp("private-kafka")),
        kafka=stack_settings.kafka.with_bootstrap(f"127.0.0.1:{port}"),
        kafka_controller_port=port + 1,
    )
    server = PrivateServer(settings, KafkaComponent)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def private_minio(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateServer]:
    port = _port_pair("S3_PORT")
    settings = replace(
        _private_settings(stack_settings, tmp_path_factory.mktemp("private-minio")),
        s3_endpoint=f"http://127.0.0.1:{port}", s3_console_port=port + 1,
    )
    server = PrivateServer(settings, MinioComponent)
    try:
        server.start()
        yield server
    finally:
        server.close()
