"""The soak's private servers: Kafka (one node or a cluster) and MinIO, on ports of their own.

The shared stack is never touched: the soak kills and restarts these servers, in a home
folder of its own, and stops them at the end. Elasticsearch is the shared stack's, behind a
fault proxy (an index of the soak's own); it is throttled and refused, never stopped.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import time
from dataclasses import replace
from pathlib import Path

from ground.settings import Settings
from shardline.stack import ComponentState, Stack
from shardline.stack.kafka_cluster import kafka_components
from shardline.stack.minio import MinioComponent
from shardline.stack.process import PidFile

__all__ = ["PrivateServers", "free_block"]


def free_block(count: int, low: int = 21_000, high: int = 32_000) -> int:
    """The first of ``count`` consecutive free ports on 127.0.0.1, below the ephemeral range
    (a restarted server must get its ports back)."""
    rng = random.Random()
    for _ in range(500):
        first = rng.randrange(low, high - count)
        ok = True
        for port in range(first, first + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


class PrivateServers:
    """A private Kafka of ``brokers`` nodes and a private MinIO under ``home``."""

    def __init__(self, base: Settings, home: Path, brokers: int) -> None:
        first = free_block(2 * brokers + 2)
        bootstrap = ",".join(f"127.0.0.1:{first + i}" for i in range(brokers))
        s3 = first + 2 * brokers
        self.settings = replace(
            base, home=home, kafka=base.kafka.with_bootstrap(bootstrap),
            kafka_controller_port=first + brokers,
            s3_endpoint=f"http://127.0.0.1:{s3}", s3_console_port=s3 + 1,
        )
        env = dict(os.environ)
        components = (*kafka_components(self.settings, env), MinioComponent(self.settings, env))
        self.stack = Stack(self.settings, env=env, components=components)
        self.brokers = [c.name for c in components if c.name.startswith("kafka")]

    def up(self) -> None:
        self.stack.up()

    def down(self) -> None:
        self.stack.down()

    def _pid_file(self, name: str) -> PidFile:
        return self.stack.components[name].pid_file

    def pid(self, name: str) -> int | None:
        record = self._pid_file(name).live()
        return record.pid if record is not None else None

    def pids(self) -> dict[str, int]:
        return {n: p for n in self.stack.components if (p := self.pid(n)) is not None}

    def kill9(self, name: str) -> None:
        pid = self.pid(name)
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while self.pid(name) is not None and time.monotonic() < deadline:
            time.sleep(0.1)

    def start(self, name: str) -> float:
        """Restart ``name`` on its data and wait until healthy; seconds it took."""
        t0 = time.monotonic()
        self.stack.up([name])
        return time.monotonic() - t0

    def healthy(self, name: str) -> bool:
        status = self.stack.status([name])[0]
        return status.state is ComponentState.RUNNING
