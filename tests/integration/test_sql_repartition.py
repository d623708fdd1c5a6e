"""KDA applications whose groups span the partitions of their input, on the real stack.

One application (``sql_apps/repartition``) holds the corpus: GROUP BY sector (not the key)
in tumbling windows on ROWTIME and on event time; a filter pump into an in-application
stream, then a per-sector window, beside a per-symbol window on the renamed key (no
repartition, as ``sql explain`` says); a global COUNT(*) per window; a global
TOP_K_ITEMS_TUMBLING; COUNT_DISTINCT_ITEMS_TUMBLING of sectors, and of one sector's tickers;
a stream-to-stream join on the sector; a per-sector FIRST_VALUE on event time, whose rows
cross (late rows decided in front of the repartition). Its input is a topic of four
partitions keyed by ticker. It runs three ways — one worker; one worker killed with SIGKILL
mid-stream and restarted; two workers, one killed while a third joins — and every output is
compared row for row with DuckDB over the input as it sits in Kafka, each window result
exactly once.

The oracle's rules (not the engine's code): ROWTIME is the running maximum of a partition's
Kafka timestamps in offset order; an event-time row is late when its window ended at or
before the largest event time before it *in its partition* minus the allowed lateness
(decided as without a repartition); a result aggregates the rows that are not late, over
every partition.

A second application (``sql_apps/repartition_filtered``): a filter pump that passes the rows
of some input partitions only, then per-sector windows on event time (partial aggregates, and
FIRST_VALUE, whose rows cross): their results come out while records still arrive on every
partition, as a partition none of whose rows reach the windows is quiet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import duckdb
import pytest
import yaml
from confluent_kafka.admin import ConfigResource

from ground.kafka import admin_client, delete_topics_with_prefix, list_topic_names, partition_count
from ground.settings import Settings
from tests.duckdb_oracles import both_sides_oracle, judge_lateness, sector_oracle
from tests.integration.pace import Pace
from tests.integration.sql_apps_support import (
    LATENESS_MS,
    SECTORS,
    App,
    Dataset,
    assert_keys_unique,
    committed_count,
    deploy,
    finish,
    input_table,
    join_producer,
    output,
    produce,
    produce_in_background,
    start_ms,
    ticker_partitions,
    ticker_records,
    ts_ms,
)
from tests.integration.workers import ROOT, Worker, wait_for, wait_log
from tests.rows import assert_same_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TEMPLATE = "repartition"
PARTITIONS = 4
SLOW = {"CommitIntervalMs": 100, "BatchMaxRecords": 50}


def oracle(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every output of the corpus, and its late rows, from the input table ``s``."""
    q = con.execute
    return {
        **sector_oracle(con, lateness_ms=LATENESS_MS, per_partition=True),
        "RISING_PER_SECTOR": q(
            "SELECT sector, rowtime - rowtime % 10000, count(*), max(price) FROM s "
            "WHERE change > 0 GROUP BY ALL").fetchall(),
        "RISING_PER_SYMBOL": q(
            "SELECT ticker, rowtime - rowtime % 10000, count(*), avg(price) FROM s "
            "WHERE change > 0 GROUP BY ALL").fetchall(),
        "TRADES_PER_WINDOW": q(
            "SELECT rowtime - rowtime % 10000, count(*), avg(price) FROM s GROUP BY ALL"
        ).fetchall(),
        "DISTINCT_SECTORS": q(
            "SELECT rowtime - rowtime % 30000, count(DISTINCT sector) FROM s "
            "WHERE price > 100 GROUP BY ALL").fetchall(),
        "TECH_TICKERS": q(
            "SELECT rowtime - rowtime % 30000, count(DISTINCT ticker) FROM s "
            "WHERE sector = 'TECHNOLOGY' GROUP BY ALL").fetchall(),
        # the rows behind the repartition are in ROWTIME order (ties: partition, offset)
        "SECTOR_FIRST": q(
            "SELECT sector, ws, count(*), first(price ORDER BY rowtime, part, off) "
            "FROM judged WHERE wm IS NULL OR ws + 10000 > wm GROUP BY ALL").fetchall(),
    }  # fmt: skip


def expected_counts(app: App, want: dict[str, list[tuple[Any, ...]]]) -> dict[str, int]:
    counts = {app.outputs[name]: len(rows) for name, rows in want.items() if name != "late"}
    counts[app.errors] = 2 * len(want["late"])  # the same rows late in two pumps
    return counts


def check(settings: Settings, app: App, want: dict[str, list[tuple[Any, ...]]]) -> None:
    """Every output equals the oracle's, row for row; window results once each."""

    def rows(stream: str, keyed: bool = True) -> list[tuple[Any, dict[str, Any]]]:
        got = output(settings, app.outputs[stream])
        if keyed:
            assert_keys_unique(got)
        return got

    def window_of(r: Any, size_ms: int) -> tuple[int, int]:
        # key: <application>/<stream>/<window start>/<rank>; ROWTIME: the window's end
        start, rank = (r.key or b"").decode().rsplit("/", 2)[1:]
        assert r.timestamp_ms == int(start) + size_ms
        return int(start), int(rank)

    got = rows("SECTOR_ROWTIME")
    for r, v in got:
        assert r.timestamp_ms == ts_ms(v["WINDOW_START"]) + 10_000  # ROWTIME: the window end
    assert_same_rows(
        [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["TOTAL_PRICE"], v["MAX_CHANGE"],
          v["TICKERS"]) for _, v in got],
        want["SECTOR_ROWTIME"], what="GROUP BY sector on ROWTIME",
    )  # fmt: skip
    assert_same_rows(
        [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["TOTAL_PRICE"])
         for _, v in rows("SECTOR_EVENT_TIME")],
        want["SECTOR_EVENT_TIME"], what="GROUP BY sector on event time",
    )  # fmt: skip
    late: dict[str, list[tuple[Any, ...]]] = {"SECTOR_EVENT_TIME_PUMP": [],
                                              "SECTOR_FIRST_PUMP": []}  # fmt: skip
    for _, e in output(settings, app.errors):
        assert e["ERROR_NAME"] == "Late_Row" and e["PUMP_NAME"] in late, e
        (_, rowtime), _arrival, ticker, _sector, _change, price, (_, event_ms) = json.loads(
            bytes.fromhex(e["DATA_ROW"])
        )
        late[e["PUMP_NAME"]].append((e["SOURCE_PARTITION"], rowtime, ticker, price, event_ms))
    for pump, rows_late in late.items():
        assert_same_rows(rows_late, want["late"], what=f"Late_Row errors of {pump}")
    assert_same_rows(
        [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["FIRST_PRICE"])
         for _, v in rows("SECTOR_FIRST")],
        want["SECTOR_FIRST"], what="FIRST_VALUE per sector on event time (rows cross)",
    )  # fmt: skip
    assert_same_rows(
        [(v["SECT"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["MAX_PRICE"])
         for _, v in rows("RISING_PER_SECTOR")],
        want["RISING_PER_SECTOR"], what="a filter pump, then a per-sector window",
    )  # fmt: skip
    assert_same_rows(
        [(v["SYMBOL"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["AVG_PRICE"])
         for _, v in rows("RISING_PER_SYMBOL")],
        want["RISING_PER_SYMBOL"], what="the renamed key",
    )  # fmt: skip
    assert_same_rows(
        [(ts_ms(v["WINDOW_START"]), v["TRADES"], v["AVG_PRICE"])
         for _, v in rows("TRADES_PER_WINDOW")],
        want["TRADES_PER_WINDOW"], what="a global COUNT(*)",
    )  # fmt: skip
    assert_same_rows(
        [(*window_of(r, 30_000), v["ITEM"], v["ITEM_COUNT"]) for r, v in rows("TOP_TICKERS")],
        want["TOP_TICKERS"], what="TOP_K_ITEMS_TUMBLING",
    )  # fmt: skip
    for stream in ("DISTINCT_SECTORS", "TECH_TICKERS"):
        assert_same_rows(
            [(window_of(r, 30_000)[0], v["NUMBER_OF_DISTINCT_ITEMS"]) for r, v in rows(stream)],
            want[stream], what=f"COUNT_DISTINCT_ITEMS_TUMBLING ({stream})",
        )  # fmt: skip
    assert_same_rows(
        [(v["UP_TICKER"], v["DOWN_TICKER"], v["SECTOR"], v["UP_PRICE"], v["DOWN_PRICE"])
         for _, v in rows("SECTOR_SWINGS", keyed=False)],
        want["SECTOR_SWINGS"], what="the join on the sector",
    )  # fmt: skip
    # the data exercises what it should
    assert len(want["late"]) > app.input.records // 200
    assert len(want["SECTOR_SWINGS"]) > 100 and len(want["TOP_TICKERS"]) >= 15
    sectors_per_partition = {r[0] for r in want["SECTOR_ROWTIME"]}
    assert len(sectors_per_partition) >= 5


def finish_and_check(
    settings: Settings, app: App, survivors: list[Worker], producer: Any = None
) -> None:
    if producer is not None:
        join_producer(producer)
    want = oracle(input_table(settings.kafka, app.input.topic))
    finish(settings, app, expected_counts(app, want), survivors, timeout_s=90)
    check(settings, app, want)


def test_explain_shows_the_stages_and_the_renamed_key_needs_none() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shardline", "sql", "explain",
         str(ROOT / "tests" / "integration" / "sql_apps" / TEMPLATE)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    text = done.stdout
    assert "pump RISING_SYMBOL_PUMP: RISING → RISING_PER_SYMBOL (no repartition: its keys " \
           "include SYMBOL, the input topic's key" in text  # fmt: skip
    assert "RISING_SYMBOL_PUMP-repartition" not in text
    assert text.count("stage ") >= 9 and "why: " in text
    assert "stage 8 reads repartition topic it-sql-repartition-SWING_PUMP-repartition (rows" \
           in text  # fmt: skip
    assert "one-partition" not in text and "needs a" not in text


def topic_configs(kafka: Any, topic: str) -> tuple[int, dict[str, str]]:
    """A topic's partition count and effective configs, as the broker has them."""
    admin = admin_client(kafka)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    return partition_count(kafka, topic), {k: v.value for k, v in configs.items()}


def test_one_worker(stack_settings, topic_factory, tmp_path, workers) -> None:
    """Also: the worker makes its internal topics itself, the repartition topics with
    ``Runtime.RepartitionPartitions`` (3, the input has 4) partitions."""
    topic = topic_factory(PARTITIONS, prefix="it-ticker-rp")
    produce(stack_settings.kafka, topic,
            ticker_records(4_000, seed=21, start_ms=start_ms()), PARTITIONS)  # fmt: skip
    data = Dataset(topic, PARTITIONS, 4_000)
    app = deploy(TEMPLATE, tmp_path, topic_factory, data,
                 runtime={"RepartitionPartitions": 3}, internal_topics=False)  # fmt: skip
    try:
        w = app.worker("w1", tmp_path / "w1.log", workers)
        finish_and_check(stack_settings, app, [w])
        internal = [t for t in list_topic_names(stack_settings.kafka) if t.startswith(app.name)]
        # 9 repartition topics, their changelogs, the input's, the record of the plan
        assert len(internal) == 2 * 9 + 2
        for name in internal:
            partitions, configs = topic_configs(stack_settings.kafka, name)
            assert configs["message.timestamp.type"] == "LogAppendTime", name
            if name == f"{app.name}-plan":
                assert (partitions, configs["cleanup.policy"]) == (1, "compact")
            elif name.endswith("-repartition"):
                assert partitions == 3, name
                assert (configs["cleanup.policy"], configs["retention.ms"]) == ("delete", "-1")
            else:  # a changelog: as many partitions as the topic it is the state of
                assert partitions == (PARTITIONS if topic in name else 3), name
                assert configs["cleanup.policy"] == "compact", name
        # reset: the group, the changelogs and the repartition topics go; outputs stay
        done = subprocess.run(
            [sys.executable, "-m", "shardline", "sql", "reset", "--yes", str(app.folder)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "SHARDLINE_HOME": str(app.home)},
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"deleted the consumer group and {len(internal)} topics" in done.stdout
        left = set(list_topic_names(stack_settings.kafka))
        assert not [t for t in left if t.startswith(app.name)]
        assert set(app.outputs.values()) <= left and app.errors in left
    finally:  # what a failure before the reset left
        delete_topics_with_prefix(stack_settings.kafka, f"{app.name}-")


@pytest.mark.faults
def test_kill9_and_restart(stack_settings, topic_factory, tmp_path, workers) -> None:
    topic = topic_factory(PARTITIONS, prefix="it-ticker-rp-restart")
    data = Dataset(topic, PARTITIONS, 3_000)
    app = deploy(TEMPLATE, tmp_path, topic_factory, data, runtime=SLOW)
    pace = Pace(400, hold_at=2_000)  # the last third trickles until the restart
    producer = produce_in_background(
        stack_settings.kafka, topic, ticker_records(data.records, seed=22, start_ms=start_ms()),
        PARTITIONS, per_second=pace,
    )  # fmt: skip
    first = app.worker("w1", tmp_path / "w1.log", workers)
    wait_for(stack_settings, app.name, topic, PARTITIONS, 800, 90, [first])
    first.kill9()  # windows open, repartition topics written but not all read
    assert producer.is_alive(), "the input was complete before the kill"
    second = app.worker("w1", tmp_path / "w2.log", workers)
    pace.release()
    finish_and_check(stack_settings, app, [second], producer)
    assert "restored" in second.tail(50_000)


@pytest.mark.faults
def test_two_workers_one_killed_then_a_third_joins(
    stack_settings, topic_factory, tmp_path, workers
) -> None:
    topic = topic_factory(PARTITIONS, prefix="it-ticker-rp-pair")
    data = Dataset(topic, PARTITIONS, 4_000)
    app = deploy(
        TEMPLATE, tmp_path, topic_factory, data,
        runtime={**SLOW, "SessionTimeoutMs": 6_000, "TransactionTimeoutMs": 10_000},
    )  # fmt: skip
    # the input keeps arriving until the third worker owns partitions: no input partition
    # is quiet for the idle timeout before that
    pace = Pace(250, hold_at=2_800)
    producer = produce_in_background(
        stack_settings.kafka, topic, ticker_records(data.records, seed=23, start_ms=start_ms()),
        PARTITIONS, per_second=pace,
    )  # fmt: skip
    a = app.worker("a", tmp_path / "a.log", workers)
    b = app.worker("b", tmp_path / "b.log", workers)
    wait_log([a, b], "assigned ", 60)
    wait_for(stack_settings, app.name, topic, PARTITIONS, 700, 90, [a, b])
    a.kill9()
    assert producer.is_alive(), "the input was complete before the kill"
    wait_log([b], "assigned ", 45, times=2)  # b takes a's partitions
    c = app.worker("c", tmp_path / "c.log", workers)
    wait_log([c], "assigned ", 60)
    assert producer.is_alive(), "the input was complete before the third worker joined"
    pace.release()
    finish_and_check(stack_settings, app, [b, c], producer)


# -- a filter that passes the rows of some partitions only ------------------------------------
FILTERED = "repartition_filtered"
KEPT_SECTORS = ("TECHNOLOGY", "FINANCIAL", "HEALTHCARE")  # the filter pump's WHERE
#: ROWTIME moves ~9 s a second here: a partition that passes rows passes one far more often
#: (a quiet spell of one would leave it out of the stage's time, and a row of a window the
#: others closed meanwhile would be late, which the oracle does not model), and the windows
#: still open at the end close within ``finish``'s wait
QUIET_AFTER_MS = 6_000


def filtered_oracle(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """The filtered application's outputs from the input table ``s``: the rows that pass the
    filter, late rows judged per input partition among them."""
    kept = ", ".join(f"'{s}'" for s in KEPT_SECTORS)
    con.execute(f"DELETE FROM s WHERE sector NOT IN ({kept})")  # ROWTIME was the input's
    judge_lateness(con, window_ms=10_000, lateness_ms=LATENESS_MS, per_partition=True)
    q = con.execute
    on_time = "FROM judged WHERE wm IS NULL OR ws + 10000 > wm GROUP BY ALL"
    return {
        "KEPT_PER_SECTOR": q(f"SELECT sector, ws, count(*), sum(price) {on_time}").fetchall(),
        "KEPT_FIRST": q(
            f"SELECT sector, ws, count(*), first(price ORDER BY rowtime, part, off) {on_time}"
        ).fetchall(),
        "late": q("SELECT part, ticker, event_ms FROM judged WHERE ws + 10000 <= wm").fetchall(),
    }  # fmt: skip


def filtered_results(settings: Settings, app: App, stream: str) -> list[tuple[Any, ...]]:
    got = output(settings, app.outputs[stream])
    assert_keys_unique(got)
    value = "TOTAL_PRICE" if stream == "KEPT_PER_SECTOR" else "FIRST_PRICE"
    return [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["TRADES"], v[value]) for _, v in got]


def test_windows_behind_a_filter_come_out_while_every_partition_flows(
    stack_settings, topic_factory, tmp_path, workers
) -> None:
    """A filter pump lets the rows of some input partitions through only (their tickers'
    sectors); records keep arriving on every partition. The per-sector windows behind the
    repartition come out while the input still flows — no partition is idle — because a
    partition none of whose rows reach them is quiet (``docs/sql.md``), and equal DuckDB's."""
    owners = ticker_partitions(PARTITIONS)
    passing = {owners[t] for t, sector in SECTORS.items() if sector in KEPT_SECTORS}
    assert set(range(PARTITIONS)) - passing, "some partition must have no row that passes"
    topic = topic_factory(PARTITIONS, prefix="it-ticker-rp-quiet")
    data = Dataset(topic, PARTITIONS, 1_800)
    app = deploy(FILTERED, tmp_path, topic_factory, data)
    config_file = app.folder / "application.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["EventTime"]["IdleTimeoutMs"] = QUIET_AFTER_MS
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    w = app.worker("w1", tmp_path / "w1.log", workers)
    wait_log([w], "assigned ", 60)
    producer = produce_in_background(
        stack_settings.kafka, topic, ticker_records(data.records, seed=24, start_ms=start_ms()),
        PARTITIONS, per_second=150,
    )  # fmt: skip
    # window results appear while records still arrive on every partition (~37 a second each;
    # the idle timeout is 6 s)
    early: dict[str, int] = {}
    while producer.is_alive():
        early = {s: committed_count(stack_settings.kafka, app.outputs[s]) for s in
                 ("KEPT_PER_SECTOR", "KEPT_FIRST")}  # fmt: skip
        if min(early.values()) >= 6:
            break
        assert w.alive(), w.tail()
        time.sleep(0.3)
    assert producer.is_alive() and min(early.values()) >= 6, (
        f"window results before the input ended: {early}"
    )
    seen = {s: filtered_results(stack_settings, app, s) for s in early}
    join_producer(producer)
    con = input_table(stack_settings.kafka, topic)
    by_part = con.execute(
        f"SELECT part, count(*) FILTER (WHERE sector IN {KEPT_SECTORS}) FROM s GROUP BY part"
    ).fetchall()
    assert all(n > 0 for p, n in by_part if p in passing)
    assert [n for p, n in by_part if p not in passing] == [0] * (PARTITIONS - len(passing))
    want = filtered_oracle(con)
    counts = {app.outputs[s]: len(want[s]) for s in ("KEPT_PER_SECTOR", "KEPT_FIRST")}
    counts[app.errors] = 2 * len(want["late"])  # the same rows late in both pumps
    finish(stack_settings, app, counts, [w], timeout_s=60)
    for stream, rows in seen.items():
        # what came out early is final: the same rows at the end, and DuckDB's
        assert set(rows) <= set(filtered_results(stack_settings, app, stream))
        assert_same_rows(rows, [r for r in want[stream] if (r[0], r[1]) in
                                {(g[0], g[1]) for g in rows}], what=f"early {stream}")  # fmt: skip
        assert_same_rows(filtered_results(stack_settings, app, stream), want[stream],
                         what=f"{stream} behind the filter")  # fmt: skip
    late: dict[str, list[tuple[Any, ...]]] = {"KEPT_SECTOR_PUMP": [], "KEPT_FIRST_PUMP": []}
    for _, e in output(stack_settings, app.errors):
        assert e["ERROR_NAME"] == "Late_Row" and e["PUMP_NAME"] in late, e
        row = json.loads(bytes.fromhex(e["DATA_ROW"]))  # a row of KEPT
        late[e["PUMP_NAME"]].append((e["SOURCE_PARTITION"], row[1], row[-1][1]))
    for pump, rows_late in late.items():
        assert_same_rows(rows_late, want["late"], what=f"Late_Row errors of {pump}")


# -- a stream written on both sides of a repartition, read by a window and a filter ----------
BOTH_SIDES = "repartition_both_sides"




def test_a_stream_written_on_both_sides_of_a_repartition(
    stack_settings, topic_factory, tmp_path, workers
) -> None:
    """Raw rising trades (stage 0) and per-sector sums (behind a repartition) in one stream:
    a window over it gets both stages' rows through one repartition topic, in ROWTIME order;
    a filter over it runs in both stages."""
    topic = topic_factory(PARTITIONS, prefix="it-ticker-rp-both")
    produce(stack_settings.kafka, topic,
            ticker_records(2_500, seed=24, start_ms=start_ms()), PARTITIONS)  # fmt: skip
    app = deploy(BOTH_SIDES, tmp_path, topic_factory, Dataset(topic, PARTITIONS, 2_500))
    explained = subprocess.run(
        [sys.executable, "-m", "shardline", "sql", "explain", str(app.folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "pump BIG_PUMP: ACTIVITY → BIG (runs in stages 0, 1" in explained
    assert "why: LABEL_PUMP reads a stream that pumps on both sides of a repartition write " \
        "(ACTIVITY in stages 0, 1)" in explained  # fmt: skip
    want = both_sides_oracle(input_table(stack_settings.kafka, topic))
    w = app.worker("w1", tmp_path / "w1.log", workers)
    finish(stack_settings, app,
           {app.outputs[name]: len(rows) for name, rows in want.items()}, [w])  # fmt: skip
    got = output(stack_settings, app.outputs["PER_LABEL"])
    assert_keys_unique(got)
    for r, v in got:  # ROWTIME: the window's end, across both shuffles
        assert r.timestamp_ms == ts_ms(v["WINDOW_START"]) + 20_000
    assert_same_rows(
        [(v["LABEL"], ts_ms(v["WINDOW_START"]), v["N"], v["TOTAL"]) for _, v in got],
        want["PER_LABEL"], what="a window over rows written on both sides of a repartition",
    )  # fmt: skip
    assert_same_rows(
        [(v["LABEL"], v["AMOUNT"]) for _, v in output(stack_settings, app.outputs["BIG"])],
        want["BIG"], what="a filter over rows written on both sides of a repartition",
    )  # fmt: skip
    assert output(stack_settings, app.errors) == []
    labels = {row[0] for row in want["PER_LABEL"]}
    assert len(labels) > 10 and len(want["BIG"]) > 20  # tickers and sectors both there
