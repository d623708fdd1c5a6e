"""Workers started while a server is down wait for it, then do their work; a permanent
problem (a missing bucket, a missing input topic) still fails at once with its own line.

For a delivery worker MinIO sits behind the fault proxy (:mod:`tests.integration.fault_proxy`),
which answers 502 — as a load balancer in front of a MinIO that is restarting does — until
the test lets the requests through. A SQL worker's bootstrap address is a forwarder to the
shared broker that starts listening only when the test says (the broker "comes back"); after
the bootstrap the client talks to the broker's advertised address."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer

from ground.settings import Settings
from tests.integration.fault_proxy import FaultProxy, Mode
from tests.integration.fixtures_sinks import read_objects
from tests.integration.workers import ROOT, free_port, read_all

RECORDS = 500


def _produce(settings: Settings, topic: str) -> set[int]:
    producer = Producer(settings.kafka.client_config({"linger.ms": 5}))
    for i in range(RECORDS):
        producer.produce(topic, value=json.dumps({"id": i}).encode())
    assert producer.flush(30) == 0
    return set(range(RECORDS))


class _Command:
    """``shardline <args>`` as a subprocess, its stderr lines collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shardline", *args],
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
        worker = _Command(["deliver", *args], env)
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
        worker = _Command(["deliver", "--topic", topic, "--s3-bucket",
                           "shardline-no-such-bucket-startup", "-q"], env)
        code = worker.finish(60)
    assert code == 2
    assert time.monotonic() - started < 30
    assert not any("ground.startup" in line for line in worker.lines), worker.lines
    assert "s3.bucket 'shardline-no-such-bucket-startup'" in worker.lines[-1]
    assert "set ensure_bucket: true to create it" in worker.lines[-1]


# -- a SQL worker ---------------------------------------------------------------------------

_APP_SQL = """
CREATE OR REPLACE STREAM "COUNTS" (n BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "COUNTS"
SELECT STREAM COUNT(*) FROM "SOURCE_SQL_STREAM_001"
GROUP BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);
"""


def _app(folder: Path, name: str, source: str) -> Path:
    folder.mkdir()
    (folder / "app.sql").write_text(_APP_SQL)
    (folder / "application.yaml").write_text(yaml.safe_dump({
        "ApplicationName": name, "ApplicationCode": "app.sql",
        "Inputs": [{"NamePrefix": "SOURCE_SQL_STREAM", "Topic": source,
                    "StartingPosition": "TRIM_HORIZON",
                    "InputSchema": {"RecordFormat": {"RecordFormatType": "JSON"},
                                    "RecordColumns": [{"Name": "ID", "SqlType": "INTEGER",
                                                       "Mapping": "$.id"}]}}],
        "Outputs": [{"Name": "COUNTS", "Topic": f"{name}-out",
                     "DestinationSchema": {"RecordFormatType": "JSON"}}],
        "ErrorOutput": {"Topic": f"{name}-errors", "RecordFormatType": "JSON"},
        "EventTime": {"IdleTimeoutMs": 1000},
    }))  # fmt: skip
    return folder


class _LateListener:
    """A TCP forwarder to ``upstream`` that starts listening only when :meth:`open` is
    called: a bootstrap address whose broker is down until then."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.AbstractServer | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def open(self) -> None:
        async def start() -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def test_a_sql_worker_waits_for_its_broker_then_runs(
    stack_settings: Settings, topic_factory: Any, tmp_path: Path
) -> None:
    source = topic_factory(2, prefix="startup-sql")
    name = f"startup-{uuid.uuid4().hex[:8]}"
    _produce(stack_settings, source)
    app = _app(tmp_path / "app", name, source)
    host, _, port = stack_settings.kafka_bootstrap.split(",")[0].rpartition(":")
    listener = _LateListener((host, int(port)))
    env = {"SHARDLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{listener.port}",
           "SHARDLINE_STARTUP_WAIT_MS": "90000", "SHARDLINE_HOME": str(tmp_path / "home")}
    worker = _Command(["run", str(app), "--until-idle", "3"], env)
    try:
        waiting = f"waiting for Kafka at 127.0.0.1:{listener.port} (attempt"
        worker.wait_for(lambda: any(waiting in line for line in worker.lines), 60,
                        "waiting line")  # fmt: skip
        listener.open()  # the broker is back
        code = worker.finish(180)
    finally:
        listener.close()
    assert code == 0, worker.lines
    counts = read_all(stack_settings.kafka, f"{name}-out", committed_only=True)
    assert sum(json.loads(r.value or b"{}")["N"] for r in counts) == RECORDS


def test_a_sql_worker_still_fails_at_once_on_a_missing_input_topic(
    stack_settings: Settings, tmp_path: Path
) -> None:
    name = f"startup-{uuid.uuid4().hex[:8]}"
    app = _app(tmp_path / "app", name, f"{name}-no-such-topic")
    started = time.monotonic()
    worker = _Command(["run", str(app)], {"SHARDLINE_STARTUP_WAIT_MS": "90000",
                                          "SHARDLINE_HOME": str(tmp_path / "home")})
    code = worker.finish(60)
    assert code == 2 and time.monotonic() - started < 30
    assert not any("ground.startup" in line for line in worker.lines), worker.lines
    assert f"topic '{name}-no-such-topic' does not exist" in worker.lines[-1]
