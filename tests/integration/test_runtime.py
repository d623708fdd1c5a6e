"""The exactly-once runtime on the real stack, checked against an independent recount.

The toy processor (``tests.demo_counter``) emits, for every input record, the
record's partition and offset with the running count and sum of its key. The oracle
recomputes those from the input topic as it landed in Kafka, with plain dictionaries; the
output topic, read with read_committed, must hold exactly one record per input record —
no duplicate, no gap — whatever was killed along the way.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from ground.errors import ProcessorError
from ground.kafka import admin_client
from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from pipelines.runtime import (
    OutRecord,
    RunStats,
    RuntimeConfig,
    changelog_topic,
    run,
)
from tests.demo_counter import IDLE_KEY, CounterProcessor
from tests.integration.offsets import committed_and_end
from tests.integration.workers import Worker, progress, read_all, wait_for, wait_log

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

Row = tuple[bytes, int, int]  # key, count, sum
Position = tuple[int, int]  # partition, offset


# -- input and oracle ------------------------------------------------------------------------
def produce_input(
    kafka: KafkaConfig, topic: str, n: int, partitions: int, *, seed: int, keys: int = 40
) -> None:
    """``n`` records, keyed ``k<i>``; a key always goes to the same partition."""
    producer = Producer(kafka.client_config({"linger.ms": 5}))
    for i in range(n):
        k = (i * 7919 + seed) % keys
        producer.produce(
            topic, str((i * 31 + seed) % 1000).encode(), f"k{k}".encode(), k % partitions
        )
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


def oracle(kafka: KafkaConfig, topic: str) -> dict[Position, Row]:
    """Running count and sum per key, recomputed from the input as it is in Kafka."""
    state: dict[bytes, tuple[int, int]] = {}
    expected: dict[Position, Row] = {}
    for p, offset, key, value, _ in sorted(read_all(kafka, topic, committed_only=False)):
        assert key is not None and value is not None
        count, total = state.get(key, (0, 0))
        count, total = count + 1, total + int(value)
        state[key] = (count, total)
        expected[(p, offset)] = (key, count, total)
    return expected


def outputs(kafka: KafkaConfig, topic: str) -> tuple[list[Position], dict[Position, Row]]:
    """Every committed data output: the input positions in output order, and their rows."""
    seen: list[Position] = []
    rows: dict[Position, Row] = {}
    for out_p, _, key, value, _ts in read_all(kafka, topic, committed_only=True):
        if key == IDLE_KEY:
            continue
        assert key is not None and value is not None
        p, offset, count, total = (int(x) for x in value.split(b","))
        assert out_p == p, f"output of input partition {p} landed in partition {out_p}"
        seen.append((p, offset))
        rows[(p, offset)] = (key, count, total)
    return seen, rows


def assert_exactly_once(kafka: KafkaConfig, source: str, output: str) -> int:
    expected = oracle(kafka, source)
    seen, rows = outputs(kafka, output)
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
@pytest.fixture
def new_app(stack_settings: Settings) -> Iterator[Callable[[str], tuple[str, str]]]:
    """``new_app(source) -> (application id, output topic)``; the output and changelog
    topics the runtime creates are deleted when the test ends (best effort)."""
    made: list[str] = []

    def make(source: str) -> tuple[str, str]:
        app, output = f"it-rt-{uuid.uuid4().hex[:8]}", f"it-out-{uuid.uuid4().hex[:8]}"
        made.extend([output, changelog_topic(app, source)])
        return app, output

    yield make
    admin = admin_client(stack_settings.kafka)  # alive until the futures resolve
    for fut in admin.delete_topics(made, operation_timeout=10).values():
        try:
            fut.result(timeout=15)
        except Exception:  # best effort: the topic may not exist
            pass


def counter_worker(home: Path, log: Path, *args: str) -> Worker:
    """One ``python -m tests.demo_counter`` process."""
    return Worker(home, log, "tests.demo_counter", "--loglevel", "info", *args)


def worker_args(app: str, source: str, output: str, *extra: str) -> list[str]:
    return ["--app-id", app, "--source", source, "--output", output, *extra]


# -- tests ---------------------------------------------------------------------------------------
def test_plain_run_matches_oracle(
    stack_settings: Settings, topic_factory, new_app, tmp_path, workers
):
    kafka = stack_settings.kafka
    source = topic_factory(partitions=3)
    app, output = new_app(source)
    produce_input(kafka, source, 20_000, 3, seed=1)
    w = counter_worker(tmp_path / "home", tmp_path / "w.log", *worker_args(app, source, output))
    workers.append(w)
    wait_for(stack_settings, app, source, 3, 20_000, 45, [w])
    assert w.stop() == 0, w.tail()
    assert "stopped: RunStats(records=20000" in w.tail(), w.tail()
    assert assert_exactly_once(kafka, source, output) == 20_000


SLOW = ("--batch-max-records", "200", "--delay-ms", "25", "--commit-interval-ms", "150")


def test_kill9_and_restart_is_exactly_once(
    stack_settings: Settings, topic_factory, new_app, tmp_path, workers
):
    """Three kill -9s at different points of the stream, each followed by a restart."""
    kafka = stack_settings.kafka
    source = topic_factory(partitions=3)
    app, output = new_app(source)
    n = 30_000
    produce_input(kafka, source, n, 3, seed=2)
    home = tmp_path / "home"
    args = worker_args(app, source, output, *SLOW)
    for i, share in enumerate((0.15, 0.4, 0.65)):
        w = counter_worker(home, tmp_path / f"w{i}.log", *args)  # same host and slot: same txn id
        workers.append(w)
        wait_for(stack_settings, app, source, 3, int(n * share), 45, [w])
        w.kill9()  # mid-stream, most likely mid-transaction
        done, total = progress(stack_settings, app, source, 3)
        assert done < total, "the worker finished before it was killed"
    t0 = time.monotonic()
    last = counter_worker(home, tmp_path / "last.log", *args)
    workers.append(last)
    wait_for(stack_settings, app, source, 3, n, 45, [last])
    assert last.stop() == 0, last.tail()
    # init_transactions of the same transactional.id aborted the dead one's transaction:
    # the restart did not wait for the transaction timeout (30 s) to expire.
    assert time.monotonic() - t0 < 25
    assert f"transactional.id {app}-" in last.tail()
    assert assert_exactly_once(kafka, source, output) == n


@pytest.mark.parametrize("assignment", ["cooperative-sticky", "range"])
def test_two_workers_one_killed_then_a_third_joins(
    stack_settings: Settings, topic_factory, new_app, tmp_path, workers, assignment: str
):
    kafka = stack_settings.kafka
    source = topic_factory(partitions=4)
    app, output = new_app(source)
    n = 60_000
    produce_input(kafka, source, n, 4, seed=3)
    home = tmp_path / "home"
    args = worker_args(
        app, source, output, *SLOW,
        "--session-timeout-ms", "6000", "--transaction-timeout-ms", "10000",
        "--assignment", assignment,
    )  # fmt: skip
    a = counter_worker(home, tmp_path / "a.log", *args)
    b = counter_worker(home, tmp_path / "b.log", *args)
    workers.extend([a, b])
    wait_log([a, b], "assigned ", 30)  # both own partitions
    wait_for(stack_settings, app, source, 4, n // 5, 45, [a, b])
    before = b.log.read_text(errors="replace").count("assigned ")
    a.kill9()
    # The survivor takes over a's partitions once a's session expired (and, restoring them,
    # waits for the broker to abort a's open transaction).
    wait_log([b], "assigned ", 45, times=before + 1)
    done, total = progress(stack_settings, app, source, 4)
    assert done < total, "nothing left for the third worker"
    c = counter_worker(home, tmp_path / "c.log", *args)  # a rebalance while b is busy
    workers.append(c)
    wait_log([c], "assigned ", 30)
    wait_for(stack_settings, app, source, 4, n, 60, [b, c])
    assert b.stop() == 0, b.tail()
    assert c.stop() == 0, c.tail()
    assert assert_exactly_once(kafka, source, output) == n


class _RecordingCounter(CounterProcessor):
    def __init__(self, partition: int, output: str, calls: list[tuple[int, int, int]]) -> None:
        super().__init__(partition, output)
        self.calls = calls

    def on_idle(
        self, now_ms: int, idle_ms: int, end_offset: int | None = None
    ) -> list[OutRecord]:
        self.calls.append((self.partition, now_ms, idle_ms))
        return super().on_idle(now_ms, idle_ms, end_offset)


def _run_in_thread(
    config: RuntimeConfig, settings: Settings, factory, tmp_path: Path
) -> tuple[threading.Thread, threading.Event, dict[str, object]]:
    stop = threading.Event()
    result: dict[str, object] = {}
    local = Settings.from_env(dict(os.environ, SHARDLINE_HOME=str(tmp_path / "home")))
    assert local.kafka == settings.kafka

    def target() -> None:
        try:
            result["stats"] = run(config, local, factory, stop=stop)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, stop, result


def test_idle_partition_triggers_on_idle(
    stack_settings: Settings, topic_factory, new_app, tmp_path
):
    kafka = stack_settings.kafka
    source = topic_factory(partitions=2)
    app, output = new_app(source)
    calls: list[tuple[int, int, int]] = []
    config = RuntimeConfig(
        application_id=app,
        source_topics=(source,),
        output_topics=(output,),
        idle_timeout_ms=1_500,
        idle_check_interval_ms=200,
    )
    producer = Producer(kafka.client_config())
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
    idle_out = [r for r in read_all(kafka, output, committed_only=True) if r[2] == IDLE_KEY]
    assert len(idle_out) == len(calls)


def test_processor_exception_commits_nothing(
    stack_settings: Settings, topic_factory, new_app, tmp_path
):
    kafka = stack_settings.kafka
    source = topic_factory(partitions=1)
    app, output = new_app(source)
    producer = Producer(kafka.client_config())
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
    seen, rows = outputs(kafka, output)
    # Exactly the inputs before the committed offset have outputs, and none after it.
    assert sorted(seen) == [(0, o) for o in range(committed[0])]
    assert committed[0] <= 700
    assert all(rows[(0, o)] == (b"k", o + 1, 2 * (o + 1)) for o in range(committed[0]))
