"""A delivery worker started while S3 is down waits for it, then delivers everything; a
permanent problem (a missing bucket) still fails at once with its own line.

MinIO sits behind the fault proxy (:mod:`tests.integration.fault_proxy`), which answers 502
— as a load balancer in front of a MinIO that is restarting does — until the test lets the
requests through."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer

from ground.settings import Settings
from tests.integration.fault_proxy import FaultProxy, Mode
from tests.integration.fixtures_sinks import read_objects
from tests.integration.workers import ROOT

RECORDS = 500


def _produce(settings: Settings, topic: str) -> set[int]:
    producer = Producer(settings.kafka.client_config({"linger.ms": 5}))
    for i in range(RECORDS):
        producer.produce(topic, value=json.dumps({"id": i}).encode())
    assert producer.flush(30) == 0
    return set(range(RECORDS))


class _Deliver:
    """``shardline deliver`` as a subprocess, its stderr lines collected as they come."""

    def __init__(self, settings: Settings, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shardline", "deliver", *args],
            cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert self.proc.poll() is None, f"exited ({self.proc.returncode}): {self.lines}"
            assert time.monotonic() < deadline, f"no {what} in {timeout_s}s: {self.lines}"
            time.sleep(0.2)

    def finish(self, timeout_s: float) -> int:
        try:
            code = self.proc.wait(timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()  # our own child, by its pid
                self.proc.wait(10)
        self._reader.join(10)
        return code


def test_deliver_waits_for_s3_answering_502_then_delivers_everything(
    stack_settings: Settings, topic_factory: Any, bucket_factory: Any
) -> None:
    topic, bucket = topic_factory(1, prefix="startup"), bucket_factory("startup")
    sent = _produce(stack_settings, topic)
    with FaultProxy(stack_settings.s3_endpoint) as proxy:
        proxy.set_mode(Mode.STATUS, 502)
        env = {"SHARDLINE_S3_ENDPOINT": proxy.url, "SHARDLINE_STARTUP_WAIT_MS": "90000"}
        args = ["--topic", topic, "--s3-bucket", bucket, "--until-idle", "3", "-q"]
        worker = _Deliver(stack_settings, args, env)
        waiting = f"waiting for S3 at {proxy.url} (attempt"
        worker.wait_for(lambda: sum(waiting in line for line in worker.lines) >= 3, 60,
                        "third waiting line")  # fmt: skip
        assert proxy.faulted >= 3 and proxy.forwarded == 0
        proxy.set_mode(Mode.PASS)
        code = worker.finish(120)
    assert code == 0, worker.lines
    waits = [line for line in worker.lines if "ground.startup" in line]
    assert len(waits) >= 3 and all(waiting in line and "502" in line for line in waits), waits
    secret = stack_settings.s3_secret_key.reveal()
    assert not any(secret in line for line in worker.lines)
    got = [json.loads(line)["id"] for key, body in read_objects(stack_settings, bucket).items()
           for line in (gzip.decompress(body) if key.endswith(".gz") else body).splitlines()
           if line.strip()]  # fmt: skip
    assert sorted(got) == sorted(sent)  # everything, once


def test_deliver_still_fails_at_once_on_a_missing_bucket(
    stack_settings: Settings, topic_factory: Any
) -> None:
    topic = topic_factory(1, prefix="startup")
    with FaultProxy(stack_settings.s3_endpoint) as proxy:
        env = {"SHARDLINE_S3_ENDPOINT": proxy.url, "SHARDLINE_STARTUP_WAIT_MS": "90000"}
        started = time.monotonic()
        worker = _Deliver(stack_settings, ["--topic", topic, "--s3-bucket",
                                           "shardline-no-such-bucket-startup", "-q"], env)
        code = worker.finish(60)
    assert code == 2
    assert time.monotonic() - started < 30
    assert not any("ground.startup" in line for line in worker.lines), worker.lines
    assert "s3.bucket 'shardline-no-such-bucket-startup'" in worker.lines[-1]
    assert "set ensure_bucket: true to create it" in worker.lines[-1]
