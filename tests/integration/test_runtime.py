"""The exactly-once runtime on the real stack, checked against an independent recount.

The toy processor (``pipelines.runtime.demo_counter``) emits, for every input record, the
record's partition and offset with the running count and sum of its key. The oracle
recomputes those from the input topic as it landed in Kafka, with plain dictionaries; the
output topic, read with read_committed, must hold exactly one record per input record —
no duplicate, no gap — whatever was killed along the way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from pipelines.runtime import (
    OutRecord,
    RunStats,
    RuntimeConfig,
    run,
)
from pipelines.runtime.demo_counter import IDLE_KEY, CounterProcessor
from shardline.errors import ProcessorError
from shardline.settings import Settings
from tests.integration.offsets import committed_and_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
Row = tuple[bytes, int, int]  # key, count, sum
Position = tuple[int, int]  # partition, offset


# -- input and oracle ------------------------------------------------------------------------
def produce_input(
    bootstrap: str, topic: str, n: int, partitions: int, *, seed: int, keys: int = 40
) -> None:
    """``n`` records, keyed ``k<i>``; a key always goes to the same partition."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        k = (i * 7919 + seed) % keys
        producer.produce(
            topic, str((i * 31 + seed) % 1000).encode(), f"k{k}".encode(), k % partitions
        )
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


def read_all(
    bootstrap: str, topic: str, *, committed_only: bool, timeout_s: float = 60
) -> list[tuple[int, int, bytes | None, bytes | None]]:
    """``[(partition, offset, key, value)]`` up to the end of every partition. With
    ``committed_only`` (read_committed) this waits until no transaction is open on it."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"it-read-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed" if committed_only else "read_uncommitted",
        }
    )
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-probe"})
    try:
        parts = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        deadline = time.monotonic() + timeout_s
        # Wait until nothing is pending: the last stable offset reached the high watermark.
        while True:
            high = {p: probe.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in parts}
            stable = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in parts
            }
            if stable == high:
                break
            assert time.monotonic() < deadline, f"{topic}: open transactions {stable} < {high}"
            time.sleep(0.5)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[tuple[int, int, bytes | None, bytes | None]] = []
        pending = set(parts)
        while pending:
            assert time.monotonic() < deadline, f"reading {topic} timed out"
            for m in consumer.consume(10_000, 0.5):
                err = m.error()
                if err is None:
                    out.append((m.partition(), m.offset(), m.key(), m.value()))
                elif err.code() == KafkaError._PARTITION_EOF and m.offset() >= high[m.partition()]:
                    pending.discard(m.partition())
        return out
    finally:
        consumer.close()
        probe.close()


def oracle(bootstrap: str, topic: str) -> dict[Position, Row]:
    """Running count and sum per key, recomputed from the input as it is in Kafka."""
    state: dict[bytes, tuple[int, int]] = {}
    expected: dict[Position, Row] = {}
    for p, offset, key, value in sorted(read_all(bootstrap, topic, committed_only=False)):
        assert key is not None and value is not None
        count, total = state.get(key, (0, 0))
        count, total = count + 1, total + int(value)
        state[key] = (count, total)
        expected[(p, offset)] = (key, count, total)
    return expected


def outputs(bootstrap: str, topic: str) -> tuple[list[Position], dict[Position, Row]]:
    """Every committed data output: the input positions in output order, and their rows."""
    seen: list[Position] = []
    rows: dict[Position, Row] = {}
    for out_p, _, key, value in read_all(bootstrap, topic, committed_only=True):
        if key == IDLE_KEY:
            continue
        assert key is not None and value is not None
        p, offset, count, total = (int(x) for x in value.split(b","))
        assert out_p == p, f"output of input partition {p} landed in partition {out_p}"
        seen.append((p, offset))
        rows[(p, offset)] = (key, count, total)
    return seen, rows


def assert_exactly_once(bootstrap: str, source: str, output: str) -> int:
    expected = oracle(bootstrap, source)
    seen, rows = outputs(bootstrap, output)
    dupes = len(seen) - len(set(seen))
    assert dupes == 0, f"{dupes} duplicated outputs"
    missing = sorted(set(expected) - set(rows))
    assert not missing, f"{len(missing)} inputs without output, first {missing[:5]}"
    extra = sorted(set(rows) - set(expected))
    assert not extra, f"outputs for unknown inputs: {extra[:5]}"
    wrong = [pos for pos in expected if rows[pos] != expected[pos]]
    assert not wrong, f"{len(wrong)} wrong rows, e.g. {wrong[0]}: {rows[wrong[0]]} != " + str(
        expected[wrong[0]]
    )
    return len(expected)


# -- workers as subprocesses -------------------------------------------------------------------
class Worker:
    """One ``python -m pipelines.runtime.demo_counter`` process; killed only by its pid."""

    def __init__(self, home: Path, log: Path, *args: str) -> None:
        env = dict(os.environ, SHARDLINE_HOME=str(home), PYTHONPATH=str(ROOT))
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.runtime.demo_counter", "--loglevel", "info", *args],
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
    started: list[Worker] = []
    yield started
    for w in started:
        if w.alive():
            os.kill(w.proc.pid, signal.SIGKILL)
            w.proc.wait(10)


def progress(settings: Settings, group: str, topic: str, partitions: int) -> tuple[int, int]:
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
    deadline = time.monotonic() + timeout_s
    while not all(w.log.read_text(errors="replace").count(text) >= times for w in ws):
        for w in ws:
            assert w.alive(), f"worker died:\n{w.tail()}"
        assert time.monotonic() < deadline, f"no {text!r} in every log"
        time.sleep(0.2)


def worker_args(app: str, source: str, output: str, *extra: str) -> list[str]:
    return ["--app-id", app, "--source", source, "--output", output, *extra]


# -- tests ---------------------------------------------------------------------------------------
def test_plain_run_matches_oracle(stack_settings: Settings, topic_factory, tmp_path, workers):
    bootstrap = stack_settings.kafka_bootstrap
    source, output = topic_factory(partitions=3), f"it-out-{uuid.uuid4().hex[:8]}"
    app = f"it-rt-{uuid.uuid4().hex[:8]}"
    produce_input(bootstrap, source, 20_000, 3, seed=1)
    w = Worker(tmp_path / "home", tmp_path / "w.log", *worker_args(app, source, output))
    workers.append(w)
    wait_for(stack_settings, app, source, 3, 20_000, 45, [w])
    assert w.stop() == 0, w.tail()
    assert "stopped: RunStats(records=20000" in w.tail(), w.tail()
    assert assert_exactly_once(bootstrap, source, output) == 20_000


SLOW = ("--batch-max-records", "200", "--delay-ms", "25", "--commit-interval-ms", "150")


def test_kill9_and_restart_is_exactly_once(
    stack_settings: Settings, topic_factory, tmp_path, workers
):
    bootstrap = stack_settings.kafka_bootstrap
    source, output = topic_factory(partitions=3), f"it-out-{uuid.uuid4().hex[:8]}"
    app = f"it-rt-{uuid.uuid4().hex[:8]}"
    n = 30_000
    produce_input(bootstrap, source, n, 3, seed=2)
    home = tmp_path / "home"
    args = worker_args(app, source, output, *SLOW)
    first = Worker(home, tmp_path / "w1.log", *args)
    workers.append(first)
    wait_for(stack_settings, app, source, 3, n // 4, 45, [first])
    first.kill9()  # mid-stream, most likely mid-transaction
    done, total = progress(stack_settings, app, source, 3)
    assert done < total, "the first worker finished before it was killed"
    t0 = time.monotonic()
    second = Worker(home, tmp_path / "w2.log", *args)  # same host, same slot, same txn id
    workers.append(second)
    wait_for(stack_settings, app, source, 3, n, 45, [second])
    assert second.stop() == 0, second.tail()
    # init_transactions of the same transactional.id aborted the dead one's transaction:
    # the restart did not wait for the transaction timeout.
    assert time.monotonic() - t0 < 30
    assert "transactional.id " + app + "-" in second.tail()
    assert assert_exactly_once(bootstrap, source, output) == n


def test_two_workers_one_killed_then_a_third_joins(
    stack_settings: Settings, topic_factory, tmp_path, workers
):
    bootstrap = stack_settings.kafka_bootstrap
    source, output = topic_factory(partitions=4), f"it-out-{uuid.uuid4().hex[:8]}"
    app = f"it-rt-{uuid.uuid4().hex[:8]}"
    n = 60_000
    produce_input(bootstrap, source, n, 4, seed=3)
    home = tmp_path / "home"
    args = worker_args(
        app, source, output, *SLOW,
        "--session-timeout-ms", "6000", "--transaction-timeout-ms", "10000",
    )  # fmt: skip
    a = Worker(home, tmp_path / "a.log", *args)
    b = Worker(home, tmp_path / "b.log", *args)
    workers.extend([a, b])
    wait_log([a, b], "assigned ", 30)  # both own partitions
    wait_for(stack_settings, app, source, 4, n // 5, 45, [a, b])
    a.kill9()
    # The survivor takes over a's partitions once a's session expired (and, restoring them,
    # waits for the broker to abort a's open transaction).
    wait_log([b], "assigned ", 45, times=2)
    done, total = progress(stack_settings, app, source, 4)
    assert done < total, "nothing left for the third worker"
    c = Worker(home, tmp_path / "c.log", *args)  # a rebalance while b is busy
    workers.append(c)
    wait_log([c], "assigned ", 30)
    wait_for(stack_settings, app, source, 4, n, 60, [b, c])
    assert b.stop() == 0, b.tail()
    assert c.stop() == 0, c.tail()
    assert assert_exactly_once(bootstrap, source, output) == n


class _RecordingCounter(CounterProcessor):
    def __init__(self, partition: int, output: str, calls: list[tuple[int, int, int]]) -> None:
        super().__init__(partition, output)
        self.calls = calls

    def on_idle(self, now_ms: int, idle_ms: int) -> list[OutRecord]:
        self.calls.append((self.partition, now_ms, idle_ms))
        return super().on_idle(now_ms, idle_ms)


def _run_in_thread(
    config: RuntimeConfig, settings: Settings, factory, tmp_path: Path
) -> tuple[threading.Thread, threading.Event, dict[str, object]]:
    stop = threading.Event()
    result: dict[str, object] = {}
    local = Settings.from_env(dict(os.environ, SHARDLINE_HOME=str(tmp_path / "home")))
    assert local.kafka_bootstrap == settings.kafka_bootstrap

    def target() -> None:
        try:
            result["stats"] = run(config, local, factory, stop=stop)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, stop, result


def test_idle_partition_triggers_on_idle(stack_settings: Settings, topic_factory, tmp_path):
    bootstrap = stack_settings.kafka_bootstrap
    source, output = topic_factory(partitions=2), f"it-out-{uuid.uuid4().hex[:8]}"
    calls: list[tuple[int, int, int]] = []
    config = RuntimeConfig(
        application_id=f"it-rt-{uuid.uuid4().hex[:8]}",
        source_topics=(source,),
        output_topics=(output,),
        idle_timeout_ms=1_500,
        idle_check_interval_ms=200,
    )
    producer = Producer({"bootstrap.servers": bootstrap})
    for p in (0, 1):
        producer.produce(source, b"1", b"k%d" % p, p)
    producer.flush(10)
    thread, stop, result = _run_in_thread(
        config, stack_settings, lambda _t, p: _RecordingCounter(p, output, calls), tmp_path
    )
    # Partition 1 keeps receiving a record every 100 ms; partition 0 gets nothing more.
    t0 = time.time_ns() // 1_000_000
    busy_until = time.monotonic() + 5
    while time.monotonic() < busy_until:
        producer.produce(source, b"1", b"k1", 1)
        producer.flush(5)
        time.sleep(0.1)
    stop.set()
    thread.join(60)
    assert not thread.is_alive()
    assert "error" not in result, result
    assert isinstance(result["stats"], RunStats)
    p0 = [c for c in calls if c[0] == 0]
    assert p0, calls
    assert all(idle_ms >= 1_500 for _, _, idle_ms in p0)
    assert p0[0][1] - t0 >= 1_500  # not before the quiet partition was quiet long enough
    # at most one call per check interval
    assert all(b[1] - a[1] >= 200 for a, b in zip(p0, p0[1:], strict=False))
    assert not [c for c in calls if c[0] == 1], calls  # never quiet for 1.5 s
    idle_out = [r for r in read_all(bootstrap, output, committed_only=True) if r[2] == IDLE_KEY]
    assert len(idle_out) == len(calls)


def test_processor_exception_commits_nothing(stack_settings: Settings, topic_factory, tmp_path):
    bootstrap = stack_settings.kafka_bootstrap
    source, output = topic_factory(partitions=1), f"it-out-{uuid.uuid4().hex[:8]}"
    app = f"it-rt-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(1_000):
        producer.produce(source, b"boom" if i == 700 else b"2", b"k", 0)
    producer.flush(10)
    config = RuntimeConfig(
        application_id=app, source_topics=(source,), output_topics=(output,),
        batch_max_records=100,
    )  # fmt: skip
    thread, _stop, result = _run_in_thread(
        config, stack_settings, lambda _t, p: CounterProcessor(p, output), tmp_path
    )
    thread.join(60)
    assert not thread.is_alive()
    err = result.get("error")
    assert isinstance(err, ProcessorError), result
    assert err.partition == 0 and err.offset <= 700 and "boom" in str(err)
    committed, _ = committed_and_end(stack_settings, app, source, 1)
    seen, rows = outputs(bootstrap, output)
    # Exactly the inputs before the committed offset have outputs, and none after it.
    assert sorted(seen) == [(0, o) for o in range(committed[0])]
    assert committed[0] <= 700
    assert all(rows[(0, o)] == (b"k", o + 1, 2 * (o + 1)) for o in range(committed[0]))
