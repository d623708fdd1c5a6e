"""``GROUP BY MONOTONIC(x), sector`` on the real stack (``sql_apps/monotonic_runs``): ``x``
is a number computed from ROWTIME (five-second runs), no window of time; the input is a
topic of four partitions keyed by ticker, so the pump reads it behind a repartition into one
partition, in ROWTIME order. Checked against DuckDB over the input as it sits in Kafka.

The oracle's rules (not the engine's code): ROWTIME is the running maximum of a partition's
Kafka timestamps in offset order; the stream is every partition merged in ROWTIME order; the
groups of a run close at the first row of the next run (its ROWTIME is theirs), and the last
run is never closed.
"""

from __future__ import annotations

import pytest

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
    ts_ms,
)
from tests.rows import assert_same_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

PARTITIONS = 4
RECORDS = 3_000


def test_monotonic_groups_equal_duckdb(stack_settings, topic_factory, tmp_path, workers) -> None:
    topic = topic_factory(PARTITIONS, prefix="it-ticker-monotonic")
    produce(stack_settings.kafka, topic,
            ticker_records(RECORDS, seed=41, start_ms=start_ms()), PARTITIONS)  # fmt: skip
    app = deploy("monotonic_runs", tmp_path, topic_factory, Dataset(topic, PARTITIONS, RECORDS))
    con = input_table(stack_settings.kafka, topic)
    expected = con.execute(
        """WITH m AS (SELECT rowtime, sector, ticker, rowtime // 5000 AS run FROM s),
                runs AS (SELECT run, min(rowtime) AS first_rowtime FROM m GROUP BY run),
                closes AS (SELECT run, lead(first_rowtime) OVER (ORDER BY run) AS closed
                           FROM runs)
           SELECT m.run, m.sector, c.closed, count(*), min(m.ticker), max(m.ticker)
           FROM m JOIN closes AS c USING (run)
           WHERE c.closed IS NOT NULL
           GROUP BY m.run, m.sector, c.closed"""
    ).fetchall()
    w = app.worker("w1", tmp_path / "w1.log", workers)
    finish(stack_settings, app, {app.outputs["SECTOR_RUNS"]: len(expected)}, [w])
    records = output(stack_settings, app.outputs["SECTOR_RUNS"])
    assert_keys_unique(records)
    got = [
        (v["RUN"], v["SECTOR"], ts_ms(v["CLOSED"]), v["N"], v["FIRST_TICKER"], v["LAST_TICKER"])
        for _, v in records
    ]
    assert_same_rows(got, expected, what="GROUP BY MONOTONIC(run), sector")
    assert len(expected) > 100
    assert output(stack_settings, app.errors) == []
