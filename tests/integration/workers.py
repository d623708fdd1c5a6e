"""Worker subprocesses, and reading topics back as they are in Kafka.

Shared by the runtime tests (``test_runtime``) and the SQL application tests
(``test_sql_apps``): a :class:`Worker` is one ``python -m <module> …`` process, stopped by
SIGTERM or killed with SIGKILL by its own pid only; :func:`wait_for` follows a consumer
group's committed offsets; :func:`read_all` reads a topic back with its partitions, offsets
and timestamps (read_committed or not).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from tests.integration.offsets import committed_and_end

__all__ = [
    "ROOT",
    "Consumed",
    "Worker",
    "free_port",
    "http_get",
    "progress",
    "read_all",
    "wait_for",
    "wait_log",
    "workers",
]

ROOT = Path(__file__).resolve().parents[2]


class Consumed(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def read_all(
    kafka: KafkaConfig,
    topic: str,
    *,
    committed_only: bool,
    timeout_s: float = 60,
    settle: bool = True,
) -> list[Consumed]:
    """Every record of ``topic`` up to the end of each partition. With ``committed_only``
    (read_committed) and ``settle`` this first waits until no transaction is open on it;
    without ``settle`` it reads what is committed now (up to the last stable offsets)."""
    consumer = Consumer(
        kafka.client_config({
            "group.id": f"it-read-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed" if committed_only else "read_uncommitted",
        })
    )
    probe = Consumer(kafka.client_config({"group.id": "it-probe"}))
    try:
        parts = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        deadline = time.monotonic() + timeout_s
        while True:
            high = {p: probe.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in parts}
            # read_committed: the last stable offset; below the high watermark while open
            stable = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in parts
            }
            if stable == high or not settle:
                break
            assert time.monotonic() < deadline, f"{topic}: open transactions {stable} < {high}"
            time.sleep(0.5)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[Consumed] = []
        pending = {p for p in parts if stable[p] > 0}
        while pending:
            assert time.monotonic() < deadline, f"reading {topic} timed out"
            for m in consumer.consume(10_000, 0.5):
                err = m.error()
                if err is None:
                    out.append(
                        Consumed(m.partition(), m.offset(), m.key(), m.value(), m.timestamp()[1])
                    )
                elif err.code() == KafkaError._PARTITION_EOF:
                    if m.offset() >= stable[m.partition()]:
                        pending.discard(m.partition())
        return out
    finally:
        consumer.close()
        probe.close()


class Worker:
    """One ``python -m <module> <args>`` process; killed only by its pid."""

    def __init__(
        self, home: Path, log: Path, module: str, *args: str, env: dict[str, str] | None = None
    ) -> None:
        env = dict(os.environ, SHARDLINE_HOME=str(home), PYTHONPATH=str(ROOT), **(env or {}))
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        assert self.alive(), self.tail()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()

    def stop(self, timeout_s: float = 45) -> int:
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._out.close()

    def tail(self, n: int = 4000) -> str:
        return self.log.read_bytes()[-n:].decode(errors="replace")


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Workers a test started; whatever is still alive at the end is killed (by pid)."""
    started: list[Worker] = []
    yield started
    for w in started:
        if w.alive():
            os.kill(w.proc.pid, signal.SIGKILL)
            w.proc.wait(10)


def progress(settings: Settings, group: str, topic: str, partitions: int) -> tuple[int, int]:
    """(records committed by ``group``, records in ``topic``), summed over partitions."""
    committed, end = committed_and_end(settings, group, topic, partitions)
    return sum(max(0, committed[p]) for p in committed), sum(end.values())


def wait_for(
    settings: Settings,
    group: str,
    topic: str,
    partitions: int,
    at_least: int,
    timeout_s: float,
    alive: Sequence[Worker] = (),
) -> None:
    """Until ``group`` committed ``at_least`` records of ``topic`` (or all there are)."""
    deadline = time.monotonic() + timeout_s
    while True:
        done, total = progress(settings, group, topic, partitions)
        if done >= min(at_least, total):
            return
        for w in alive:
            assert w.alive(), f"worker died:\n{w.tail()}"
        assert time.monotonic() < deadline, f"committed {done} of {total} after {timeout_s}s"
        time.sleep(0.3)


def wait_log(ws: Sequence[Worker], text: str, timeout_s: float, times: int = 1) -> None:
    """Wait until every worker's log holds ``text`` at least ``times`` times."""
    deadline = time.monotonic() + timeout_s
    while not all(w.log.read_text(errors="replace").count(text) >= times for w in ws):
        for w in ws:
            assert w.alive(), f"worker died:\n{w.tail()}"
        assert time.monotonic() < deadline, f"no {text!r} in every log"
        time.sleep(0.2)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a worker's web server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout_s: float = 5) -> tuple[int, str, Any]:
    """(status, content type, body: parsed JSON or text) of a GET; 4xx/5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            status, ctype, raw = resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as exc:
        status, ctype, raw = exc.code, exc.headers["Content-Type"], exc.read()
    text = raw.decode()
    return status, ctype, json.loads(text) if ctype.startswith("application/json") else text
