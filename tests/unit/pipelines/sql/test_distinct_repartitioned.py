"""DISTINCT across partitions, run by every processor of the application over in-memory
topics (:mod:`.local_cluster`, four input partitions keyed by ticker) with random batches,
commits and crashes, against DuckDB over the input as it sits in its partitions.

- Aggregates of DISTINCT values grouped by the sector: each partition sends its partial (the
  set of values with their counts) across the repartition; the stage merges the sets.
- ``SELECT STREAM DISTINCT`` over grouped results, before and behind a repartition: equal
  rows of a window meet in one partition.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.pipelines.sql.test_repartitioned_apps import (
    SRC,
    assert_rows_close,
    cluster,
    errors,
    input_table,
    make_app,
    records,
    ts_ms,
    values,
)

STEP = f"STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND)"

AGGREGATES = f"""
CREATE OR REPLACE STREAM "PER_SECTOR" (sector VARCHAR(16), window_start TIMESTAMP, n BIGINT,
    s DOUBLE, a DOUBLE, sd DOUBLE, v DOUBLE);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, {STEP}, COUNT(*), SUM(DISTINCT ROUND(price)), AVG(DISTINCT ROUND(price)),
       STDDEV_POP(DISTINCT ROUND(price)), VAR_SAMP(DISTINCT ROUND(price))
FROM {SRC} GROUP BY sector, {STEP};
"""


@pytest.mark.parametrize("seed, crash_chance", [(1, 0.0), (2, 0.3), (3, 0.5)])
def test_distinct_aggregates_merge_across_partitions(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, AGGREGATES, ["PER_SECTOR"])
    assert [r.partials for r in app.topology.repartitions] == [True]
    data = records(seed=seed + 10)
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    got = [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["N"], v["S"], v["A"], v["SD"], v["V"])
           for v in values(c, "PER_SECTOR")]  # fmt: skip
    want = input_table(data).execute(
        "SELECT sector, rowtime - rowtime % 10000, count(*), sum(DISTINCT round(price)), "
        "avg(DISTINCT round(price)), stddev_pop(DISTINCT round(price)), "
        "var_samp(DISTINCT round(price)) FROM s GROUP BY ALL"
    ).fetchall()
    assert len(want) > 50
    assert_rows_close(got, want)
    assert errors(c) == []


DISTINCT_ROWS = f"""
CREATE OR REPLACE STREAM "KINDS" (window_start TIMESTAMP, sector VARCHAR(16), high BOOLEAN);
CREATE OR REPLACE PUMP "KINDS_PUMP" AS INSERT INTO "KINDS"
SELECT STREAM DISTINCT {STEP}, sector, MAX(price) > 100
FROM {SRC} GROUP BY ticker_symbol, sector, {STEP};

CREATE OR REPLACE STREAM "BUSY" (window_end TIMESTAMP, busy BOOLEAN, swing BOOLEAN);
CREATE OR REPLACE PUMP "BUSY_PUMP" AS INSERT INTO "BUSY"
SELECT STREAM DISTINCT ROWTIME, COUNT(*) > 40, MAX(change) - MIN(change) > 3.8
FROM {SRC} GROUP BY sector, {STEP};
"""


@pytest.mark.parametrize("seed, crash_chance", [(4, 0.0), (5, 0.3)])
def test_select_distinct_over_grouped_rows_of_several_partitions(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    """KINDS groups where its input is (by ticker) and distincts behind a repartition (equal
    rows come from different partitions); BUSY groups behind a repartition (by sector)."""
    app = make_app(tmp_path, DISTINCT_ROWS, ["KINDS", "BUSY"])
    assert len(app.topology.repartitions) >= 2
    data = records(seed=seed + 10)
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    duck = input_table(data)
    kinds = duck.execute(
        """SELECT DISTINCT ws, sector, high FROM (
             SELECT rowtime - rowtime % 10000 AS ws, sector, max(price) > 100 AS high
             FROM s GROUP BY ticker, sector, ws)"""
    ).fetchall()
    got = [(ts_ms(v["WINDOW_START"]), v["SECTOR"], v["HIGH"]) for v in values(c, "KINDS")]
    assert sorted(got) == sorted(kinds)
    assert len(kinds) < 0.6 * duck.execute(
        "SELECT count(DISTINCT (ticker, rowtime - rowtime % 10000)) FROM s"
    ).fetchone()[0]
    busy = duck.execute(
        """SELECT DISTINCT ws + 10000, busy, swing FROM (
             SELECT rowtime - rowtime % 10000 AS ws, count(*) > 40 AS busy,
                    max(change) - min(change) > 3.8 AS swing
             FROM s GROUP BY sector, ws)"""
    ).fetchall()
    got = [(ts_ms(v["WINDOW_END"]), v["BUSY"], v["SWING"]) for v in values(c, "BUSY")]
    assert sorted(got) == sorted(busy)
    assert len(busy) < 0.6 * len(
        duck.execute("SELECT DISTINCT sector, rowtime - rowtime % 10000 FROM s").fetchall()
    )
    assert errors(c) == []
