"""A backlog that arrives after every input partition went idle, behind a repartition.

GROUP BY sector (not the key) in a tumbling window on event time, on a topic of eight
partitions keyed by ticker, two workers. The whole input is written in one Kafka transaction
left open until both workers own their partitions and every upstream partition's marker in
the repartition topic says idle (a replay after a quiet night); then it is committed at once.
The worker that fetches first must not move the stage's time past the partitions the other
has not fetched yet: their markers say idle, but their input has committed records beyond
the position in those markers, so the stage waits for them (``pipelines.sql.shuffle``).

The oracle (DuckDB over the input as it sits in Kafka, not the engine's code): an event-time
row is late when its window ended at or before the largest event time before it *in its
partition* minus the allowed lateness; a result aggregates the rows that are not late, over
every partition. Without the wait, the partial aggregates of the worker that fetched second
were ``Late_Row`` errors of the stage behind, and their windows' results missed them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupState, Producer

from ground.kafka import admin_client
from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from pipelines.sql.shuffle import MARKER, decode_record
from shardline.producer import partition_for
from tests.integration.sql_apps_support import (
    LATENESS_MS,
    App,
    Dataset,
    Record,
    assert_keys_unique,
    deploy,
    finish,
    input_table,
    output,
    start_ms,
    ticker_records,
    ts_ms,
)
from tests.integration.workers import Worker, read_all, wait_log
from tests.rows import assert_same_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TEMPLATE = "repartition_idle_lag"
PARTITIONS = 8
RECORDS = 4_000
WINDOW_MS = 10_000


def produce_held(
    kafka: KafkaConfig, topic: str, records: Sequence[Record], partitions: int
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Write ``records`` in one transaction left open; returns (commit, abort)."""
    producer = Producer(kafka.client_config({
        "transactional.id": f"{topic}-held",
        "transaction.timeout.ms": 180_000,
        "linger.ms": 20,
    }))  # fmt: skip
    producer.init_transactions(60)
    producer.begin_transaction()
    for key, value, ts in records:
        producer.produce(topic, value, key.encode(), partition_for(key, partitions), timestamp=ts)
        producer.poll(0)
    assert producer.flush(120) == 0
    return (lambda: producer.commit_transaction(60)), (lambda: producer.abort_transaction(60))


def wait_two_members(settings: Settings, group: str, topic: str, timeout_s: float) -> None:
    """Until ``group`` is stable with two members, each owning partitions of ``topic``."""
    admin = admin_client(settings.kafka)
    deadline = time.monotonic() + timeout_s
    while True:
        described = admin.describe_consumer_groups([group])[group].result(timeout=15)
        owners = [m for m in described.members
                  if any(tp.topic == topic for tp in m.assignment.topic_partitions)]  # fmt: skip
        if described.state == ConsumerGroupState.STABLE and len(owners) == 2:
            return
        assert time.monotonic() < deadline, f"{group}: {described.state}, {len(owners)} owners"
        time.sleep(0.5)


def wait_all_idle(settings: Settings, repartition: str, channels: int, timeout_s: float) -> None:
    """Until every upstream partition's latest committed marker (in partition 0 of the
    repartition topic: every channel marks every partition) says idle."""
    deadline = time.monotonic() + timeout_s
    while True:
        idle: dict[int, bool] = {}
        for r in read_all(settings.kafka, repartition, committed_only=True, settle=False):
            kind, channel, payload = decode_record(r.value or b"")
            if r.partition == 0 and kind == MARKER:
                idle[channel] = payload[2]
        if len(idle) == channels and all(idle.values()):
            return
        assert time.monotonic() < deadline, f"markers after {timeout_s}s: {idle}"
        time.sleep(0.5)


def oracle(app: App, settings: Settings) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(window rows, late rows) from the input as it is in Kafka."""
    con = input_table(settings.kafka, app.input.topic)
    con.execute(
        f"""CREATE TABLE judged AS
            SELECT *, event_ms - event_ms % {WINDOW_MS} AS ws,
                   max(event_ms) OVER (PARTITION BY part ORDER BY off ROWS BETWEEN
                       UNBOUNDED PRECEDING AND 1 PRECEDING) - {LATENESS_MS} AS wm
            FROM s"""
    )
    windows = con.execute(
        f"SELECT sector, ws, count(*), sum(price) FROM judged "
        f"WHERE wm IS NULL OR ws + {WINDOW_MS} > wm GROUP BY ALL"
    ).fetchall()
    late = con.execute(
        f"SELECT part, rowtime, ticker, price, event_ms FROM judged WHERE ws + {WINDOW_MS} <= wm"
    ).fetchall()
    return windows, late


def test_a_backlog_after_every_partition_went_idle_is_not_late(
    stack_settings: Settings, topic_factory: Any, tmp_path: Any, workers: list[Worker]
) -> None:
    topic = topic_factory(PARTITIONS, prefix="it-ticker-idle-lag")
    app = deploy(TEMPLATE, tmp_path, topic_factory, Dataset(topic, PARTITIONS, RECORDS))
    repartition = f"{app.name}-SECTOR_EVENT_TIME_PUMP-repartition"
    records = ticker_records(RECORDS, seed=31, start_ms=start_ms())
    commit, abort = produce_held(stack_settings.kafka, topic, records, PARTITIONS)
    try:
        a = app.worker("a", tmp_path / "a.log", workers)
        b = app.worker("b", tmp_path / "b.log", workers)
        wait_log([a, b], "assigned ", 90)
        wait_two_members(stack_settings, app.name, topic, 60)
        wait_all_idle(stack_settings, repartition, PARTITIONS, 60)
    except BaseException:
        abort()
        raise
    commit()  # the backlog, at once, on every partition

    windows, late = oracle(app, stack_settings)
    assert len(late) > 10 and len(windows) > 100  # the data exercises what it should
    finish(stack_settings, app, {app.outputs["SECTOR_EVENT_TIME"]: len(windows),
                                 app.errors: len(late)}, [a, b], timeout_s=90)  # fmt: skip

    errors = [e for _, e in output(stack_settings, app.errors)]
    shuffled = [e for e in errors if e["MESSAGE"].startswith("partial aggregate")]
    assert not shuffled, f"{len(shuffled)} partial aggregates late behind the repartition"
    got_late = []
    for e in errors:
        assert (e["ERROR_NAME"], e["PUMP_NAME"]) == ("Late_Row", "SECTOR_EVENT_TIME_PUMP"), e
        (_, rowtime), _arrival, ticker, _sector, _change, price, (_, event_ms) = json.loads(
            bytes.fromhex(e["DATA_ROW"])
        )
        got_late.append((e["SOURCE_PARTITION"], rowtime, ticker, price, event_ms))
    assert_same_rows(got_late, late, what="Late_Row errors (each late in its own partition)")
    got = output(stack_settings, app.outputs["SECTOR_EVENT_TIME"])
    assert_keys_unique(got)
    assert_same_rows(
        [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["TOTAL_PRICE"]) for _, v in got],
        windows, what="GROUP BY sector on event time",
    )  # fmt: skip
