"""An application's plan, its workers and ``sql reset``, on the real stack.

A per-sector window over a four-partition topic keyed by ticker (a repartition): while its
worker runs, ``sql reset`` refuses, naming the member, and deletes nothing; a restart of the
same plan goes on; the same application grouped by ticker too (no repartition: another plan)
is refused at start-up with the reset to run; after that reset it runs, and its results are
DuckDB's over the input.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ground.kafka import delete_topics_with_prefix, list_topic_names
from tests.integration.sql_apps_support import (
    Dataset,
    assert_keys_unique,
    deploy,
    finish,
    input_table,
    output,
    produce,
    start_ms,
    ticker_records,
)
from tests.integration.workers import ROOT, wait_log
from tests.rows import assert_same_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PARTITIONS = 4
PER_SECTOR = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (SECTOR VARCHAR(16), TRADES BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM sector, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
GROUP BY sector, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);
"""
PER_SECTOR_AND_TICKER = PER_SECTOR.replace("GROUP BY sector,", "GROUP BY sector, ticker_symbol,")


def shardline(home: Path, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shardline", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout_s, env={**os.environ, "SHARDLINE_HOME": str(home)},
    )  # fmt: skip


def test_reset_waits_for_stopped_workers_and_a_changed_plan_asks_for_it(
    stack_settings, topic_factory, tmp_path, workers
) -> None:
    kafka = stack_settings.kafka
    topic = topic_factory(PARTITIONS, prefix="it-ticker-plan")
    produce(kafka, topic, ticker_records(1_000, seed=31, start_ms=start_ms()), PARTITIONS)
    data = Dataset(topic, PARTITIONS, 1_000)
    app = deploy("tumbling_event_time", tmp_path, topic_factory, data, internal_topics=False)
    code = app.folder / "app.sql"
    code.write_text(PER_SECTOR)
    config = yaml.safe_load((app.folder / "application.yaml").read_text())
    config["ApplicationCode"] = "app.sql"
    (app.folder / "application.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        w1 = app.worker("w1", tmp_path / "w1.log", workers)
        wait_log([w1], "assigned ", 90)
        refused = shardline(app.home, "sql", "reset", "--yes", str(app.folder))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"consumer group {app.name} has 1 active member" in refused.stderr
        assert "kill -TERM" in refused.stderr
        internal = {t for t in list_topic_names(kafka) if t.startswith(f"{app.name}-")}
        assert f"{app.name}-plan" in internal and f"{app.name}-STREAM_PUMP-repartition" in internal
        assert w1.alive()
        assert w1.stop() == 0, w1.tail()

        # the same plan starts again
        w2 = app.worker("w1", tmp_path / "w2.log", workers)
        wait_log([w2], "assigned ", 90)
        assert w2.stop() == 0, w2.tail()

        # another plan: refused before it reads anything, naming the reset
        code.write_text(PER_SECTOR_AND_TICKER)
        changed = shardline(app.home, "run", str(app.folder), "--instance-id", "w1")
        assert changed.returncode != 0
        message = " ".join((changed.stdout + changed.stderr).split())
        assert "made by another plan" in message, message
        assert f"shardline sql reset {app.folder}" in message
        assert "STREAM_PUMP-repartition (partial aggregates, keyed by SECTOR)" in message

        done = shardline(app.home, "sql", "reset", "--yes", str(app.folder))
        assert done.returncode == 0, done.stdout + done.stderr
        assert not [t for t in list_topic_names(kafka) if t.startswith(f"{app.name}-")]

        # after the reset the new plan runs from the start of the input: DuckDB's results
        # (in a new output topic: the first plan's results are in the old one)
        out_topic = topic_factory(PARTITIONS, prefix="it-out")
        config["Outputs"][0]["Topic"] = out_topic
        (app.folder / "application.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        want = input_table(kafka, topic).execute(
            "SELECT sector, rowtime - rowtime % 10000, count(*) FROM s "
            "GROUP BY sector, ticker, rowtime - rowtime % 10000"
        ).fetchall()
        w3 = app.worker("w1", tmp_path / "w3.log", workers)
        finish(stack_settings, app, {out_topic: len(want)}, [w3])
        rows = output(stack_settings, out_topic)
        assert_keys_unique(rows)
        # a result's ROWTIME is its window's end
        got = [(v["SECTOR"], r.timestamp_ms - 10_000, v["TRADES"]) for r, v in rows]
        assert_same_rows(got, want, what="per sector and ticker after the reset")
    finally:
        delete_topics_with_prefix(kafka, f"{app.name}-")
