"""Streams that pumps in several stages write (on both sides of a repartition), read by
another pump: run by every processor of the application over in-memory topics
(:mod:`.local_cluster`), with random batches, commits and crashes, and checked against DuckDB
over the input as it sits in its partitions.

The oracle follows KDA's rules: ROWTIME is the running maximum of a partition's Kafka
timestamps; a row of a ROWTIME window's result has the window's end as ROWTIME; a stream
several pumps write holds the rows of each, with their ROWTIMEs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ground.settings import Settings
from pipelines.sql.application import SqlApplication
from pipelines.sql.offline import run_offline
from tests.duckdb_oracles import both_sides_oracle
from tests.unit.pipelines.sql.test_repartitioned_apps import (
    SRC,
    assert_rows_close,
    cluster,
    errors,
    input_table,
    records,
    ts_ms,
    values,
)
from tests.unit.pipelines.sql.test_repartitioned_apps import make_app as _make_app


def make_app(tmp_path: Path, code: str, outputs: list[str]) -> SqlApplication:
    """The application, offline: no broker is asked for the lag of idle partitions."""
    app = _make_app(tmp_path, code, outputs)
    app.stable_offsets = None
    return app

Data = list[tuple[int, int, dict[str, Any]]]


def union_oracle(data: Data) -> dict[str, list[tuple[Any, ...]]]:
    """COUNTS: each branch's windows; ROLLUP: COUNTS's rows per 30 s of their ROWTIME (a
    window's end)."""
    con = input_table(data)
    con.execute(
        "CREATE TABLE counts AS "
        "SELECT sector AS label, rowtime - rowtime % 10000 AS ws, count(*) AS n, "
        "sum(price) AS total FROM s GROUP BY ALL "
        "UNION ALL SELECT 'ALL', rowtime - rowtime % 10000, count(*), sum(price) FROM s "
        "GROUP BY ALL"
    )
    return {
        "COUNTS": con.execute("SELECT label, ws, n, total FROM counts").fetchall(),
        "ROLLUP": con.execute(
            "SELECT label, (ws + 10000) - (ws + 10000) % 30000 AS ws30, count(*), sum(n), "
            "max(total) FROM counts GROUP BY ALL"
        ).fetchall(),
    }


def mixed_oracle(data: Data) -> dict[str, list[tuple[Any, ...]]]:
    """ACTIVITY: the filtered rows at their ROWTIME and the sectors' sums at their window's
    end; PER_LABEL: its rows per 20 s of ROWTIME; BIG: its large amounts."""
    return both_sides_oracle(input_table(data))


# -- (1) a UNION ALL whose branches need different repartitions, read by a window ------------
UNION = f"""
CREATE OR REPLACE STREAM "COUNTS" (label VARCHAR(16), ws TIMESTAMP, n BIGINT, total DOUBLE);
CREATE OR REPLACE PUMP "COUNT_PUMP" AS INSERT INTO "COUNTS"
SELECT STREAM sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM {SRC} GROUP BY sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND)
UNION ALL
SELECT STREAM 'ALL', STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM {SRC} GROUP BY STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND);
CREATE OR REPLACE STREAM "ROLLUP" (label VARCHAR(16), ws TIMESTAMP, windows BIGINT,
    n BIGINT, high DOUBLE);
CREATE OR REPLACE PUMP "ROLLUP_PUMP" AS INSERT INTO "ROLLUP"
SELECT STREAM label, STEP("COUNTS".ROWTIME BY INTERVAL '30' SECOND), COUNT(*), SUM(n),
       MAX(total)
FROM "COUNTS" GROUP BY label, STEP("COUNTS".ROWTIME BY INTERVAL '30' SECOND);
"""


@pytest.mark.parametrize("seed, crash_chance", [(31, 0.0), (32, 0.4)])
def test_union_of_branches_behind_different_repartitions_read_by_a_window(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, UNION, ["COUNTS", "ROLLUP"])
    topology = app.topology
    # each branch behind its own repartition; the rollup behind a third, fed by both stages
    assert len(topology.stages) == 4
    (rollup,) = [r for r in topology.repartitions if r.pump == "ROLLUP_PUMP"]
    assert rollup.partials and rollup.stage == 3
    assert sorted(s.index for s, _ in topology.writers(rollup)) == [1, 2]
    assert "both sides of a repartition" in rollup.reason
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    want = union_oracle(data)
    got_counts = [(v["LABEL"], ts_ms(v["WS"]), v["N"], v["TOTAL"]) for v in values(c, "COUNTS")]
    assert_rows_close(got_counts, want["COUNTS"])
    got = [(v["LABEL"], ts_ms(v["WS"]), v["WINDOWS"], v["N"], v["HIGH"])
           for v in values(c, "ROLLUP")]  # fmt: skip
    assert len(want["ROLLUP"]) > 20 and {w[0] for w in want["ROLLUP"]} > {"ALL"}
    assert_rows_close(got, want["ROLLUP"])
    for o in c.rows("out-rollup"):  # ROWTIME keeps its meaning across the shuffle
        assert o.timestamp_ms == ts_ms(json.loads(o.value)["WS"]) + 30_000
    assert errors(c) == []


# -- (2) raw filtered rows (stage 0) and per-sector aggregates (stage 1) in one stream ------
#: the on-stack test's application (``tests/integration/test_sql_repartition.py``): raw
#: filtered rows (stage 0) and per-sector sums (behind a repartition) in one stream ACTIVITY,
#: read by a per-label window and by a filter
MIXED = (
    Path(__file__).parents[3] / "integration" / "sql_apps" / "repartition_both_sides" / "app.sql"
).read_text()


@pytest.mark.parametrize("seed, crash_chance", [(33, 0.0), (34, 0.4)])
def test_filtered_rows_and_sector_aggregates_in_one_stream_read_by_other_pumps(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, MIXED, ["PER_LABEL", "BIG"])
    topology = app.topology
    (label,) = [r for r in topology.repartitions if r.pump == "LABEL_PUMP"]
    assert sorted(s.index for s, _ in topology.writers(label)) == [0, 1]
    # the stateless reader runs where each writer is: no repartition of its own
    assert [s.index for s in topology.stages for st in s.steps if st.pump == "BIG_PUMP"] == [0, 1]
    assert topology.notes["BIG_PUMP"].startswith("runs in stages 0, 1")
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    want = mixed_oracle(data)
    got = [
        (v["LABEL"], ts_ms(v["WINDOW_START"]), v["N"], v["TOTAL"]) for v in values(c, "PER_LABEL")
    ]
    assert len(want["PER_LABEL"]) > 100
    # tickers' rows (stage 0) and sectors' (stage 1) both there
    assert len({w[0] for w in want["PER_LABEL"]}) > len({v["sector"] for _, _, v in data})
    assert_rows_close(got, want["PER_LABEL"])
    got_big = [(v["LABEL"], v["AMOUNT"]) for v in values(c, "BIG")]
    assert len(want["BIG"]) > 20
    assert_rows_close(got_big, want["BIG"])
    assert errors(c) == []


def test_explain_names_the_stages_that_feed_the_reader(tmp_path: Path) -> None:
    app = make_app(tmp_path, MIXED, ["PER_LABEL", "BIG"])
    text = "\n".join(app.topology.explain())
    assert "rows of ACTIVITY → rp-LABEL_PUMP-repartition" not in text  # partials cross
    assert "pump BIG_PUMP: ACTIVITY → BIG (runs in stages 0, 1" in text
    assert text.count("pump LABEL_PUMP (partial): ACTIVITY → partial aggregates") == 2
    assert "why: LABEL_PUMP reads a stream that pumps on both sides of a repartition write " \
        "(ACTIVITY in stages 0, 1)" in text


# -- offline (``shardline sql test``): one partition of each topic ---------------------------
@pytest.mark.parametrize("batch_records", [500, 41])
def test_offline_runs_of_both_applications_equal_duckdb(
    tmp_path: Path, batch_records: int
) -> None:
    data = [(0, ts, v) for _, ts, v in records()]  # one input partition, in arrival order
    lines = [
        json.dumps({"TICKER_SYMBOL": v["ticker"], "SECTOR": v["sector"], "CHANGE": v["change"],
                    "PRICE": v["price"], "EVENT_TIME": v["event_ms"], "ROWTIME": ts})
        for _, ts, v in data
    ]  # fmt: skip
    cases = [
        (UNION, union_oracle(data), {
            "COUNTS": lambda v: (v["LABEL"], ts_ms(v["WS"]), v["N"], v["TOTAL"]),
            "ROLLUP": lambda v: (v["LABEL"], ts_ms(v["WS"]), v["WINDOWS"], v["N"], v["HIGH"]),
        }),
        (MIXED, mixed_oracle(data), {
            "PER_LABEL": lambda v: (v["LABEL"], ts_ms(v["WINDOW_START"]), v["N"], v["TOTAL"]),
            "BIG": lambda v: (v["LABEL"], v["AMOUNT"]),
        }),
    ]  # fmt: skip
    for i, (code, want, shape) in enumerate(cases):
        folder = tmp_path / str(i)
        folder.mkdir()
        app = make_app(folder, code, list(shape))
        out = run_offline(app.config, lines, Settings.from_env({}), batch_records=batch_records)
        assert {r.stream for r in out} == set(shape)  # no error rows
        for stream, row in shape.items():
            assert_rows_close([row(r.row) for r in out if r.stream == stream], want[stream])
