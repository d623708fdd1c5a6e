"""A channel whose rows stop reaching the repartition while its input flows (all filtered out
before it) stops holding the stage's event-time frontier: a quiet channel
(:mod:`pipelines.sql.shuffle`).

A filter pump into an in-application stream lets no row of one input partition through; a
per-sector window follows, on event time, behind a repartition: partial aggregates cross it
(``COUNT``, ``SUM``), or the rows themselves through late gates (``FIRST_VALUE``). Every
partition keeps receiving records and none goes idle. The windows still close once the other
partitions' frontier passes their end, equal to DuckDB over the rows that passed the filter,
with the same ``Late_Row`` errors; after the inputs go idle, every window is out, once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.sql.application import SqlApplication
from tests.duckdb_oracles import judge_lateness
from tests.unit.pipelines.sql.test_repartitioned_apps import (
    LATENESS_MS,
    PARTITIONS,
    SRC,
    assert_rows_close,
    cluster,
    errors,
    input_table,
    make_app,
    partition_of,
    records,
    ts_ms,
    values,
)

QUIET_PARTITION = 3
IDLE_TIMEOUT_MS = 5_000
TICKERS = [f"T{i:02d}" for i in range(20)]  # ticker_records' symbols
FILTERED = [t for t in TICKERS if partition_of(t) == QUIET_PARTITION]
_NOT_QUIET = " AND ".join(f"ticker_symbol <> '{t}'" for t in FILTERED)

CODE = f"""
CREATE OR REPLACE STREAM "KEPT" (ticker VARCHAR(4), sector VARCHAR(16), change REAL,
    price REAL, event_time TIMESTAMP);
CREATE OR REPLACE PUMP "KEEP_PUMP" AS INSERT INTO "KEPT"
SELECT STREAM ticker_symbol, sector, change, price, event_time FROM {SRC} WHERE {_NOT_QUIET};

CREATE OR REPLACE STREAM "PER_SECTOR" (sector VARCHAR(16), window_start TIMESTAMP, n BIGINT,
    total DOUBLE);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, STEP("KEPT".event_time BY INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM "KEPT" GROUP BY sector, STEP("KEPT".event_time BY INTERVAL '10' SECOND);

CREATE OR REPLACE STREAM "FIRST_SECTOR" (sector VARCHAR(16), window_start TIMESTAMP, n BIGINT,
    first_price REAL);
CREATE OR REPLACE PUMP "FIRST_PUMP" AS INSERT INTO "FIRST_SECTOR"
SELECT STREAM sector, STEP("KEPT".event_time BY INTERVAL '10' SECOND), COUNT(*),
       FIRST_VALUE(price)
FROM "KEPT" GROUP BY sector, STEP("KEPT".event_time BY INTERVAL '10' SECOND);
"""
OUTPUTS = ("PER_SECTOR", "FIRST_SECTOR")


def _app(folder: Path, code: str = CODE) -> SqlApplication:
    return make_app(folder, code, OUTPUTS, event_time={"IdleTimeoutMs": IDLE_TIMEOUT_MS})


Data = list[tuple[int, int, dict[str, Any]]]


def _tail(data: Data, per_partition: int = 250) -> Data:
    """More records on every partition after ``data`` (event time = arrival, none late): the
    traffic that goes on. They move every partition's ROWTIME past its last batch of
    ``data``, so the frontiers that batch carried take effect behind the repartition (they
    wait for the stage's ROWTIME to pass the rows sent before them)."""
    sectors = {v["ticker"]: v["sector"] for _, _, v in data}
    last_ms = max(ts for _, ts, _ in data)
    out = []
    for i in range(per_partition * PARTITIONS):
        ticker = TICKERS[i % len(TICKERS)]
        ts = last_ms + 1_000 + i * 100 // PARTITIONS
        value = {"ticker": ticker, "sector": sectors[ticker], "change": 0.5,
                 "price": 10.0 + i % 7, "event_ms": ts}  # fmt: skip
        out.append((partition_of(ticker), ts, value))
    return out


def _oracle(data: Data, tail: Data) -> dict[str, Any]:
    # DuckDB over the rows that pass the filter: the quiet partition has none
    con = input_table([d for d in data + tail if d[0] != QUIET_PARTITION])
    judge_lateness(con, window_ms=10_000, lateness_ms=LATENESS_MS, per_partition=True)
    q = con.execute
    on_time = "FROM judged WHERE wm IS NULL OR ws + 10000 > wm GROUP BY ALL"
    # how far every partition that passes rows has surely come with ``data``: the windows
    # that end there close without the quiet partition, before any input goes idle
    last = max(ts for _, ts, _ in data)
    (frontier,) = q(
        f"SELECT min(m) - {LATENESS_MS} FROM (SELECT max(event_ms) AS m FROM s "
        f"WHERE ts <= {last} GROUP BY part)"
    ).fetchone() or (None,)
    return {
        "PER_SECTOR": q(f"SELECT sector, ws, count(*), sum(price) {on_time}").fetchall(),
        # the rows behind are merged by ROWTIME (ties: by partition, then offset)
        "FIRST_SECTOR": q(
            f"SELECT sector, ws, count(*), first(price ORDER BY rowtime, part, off) {on_time}"
        ).fetchall(),
        "late": q("SELECT part, ticker, event_ms FROM judged WHERE ws + 10000 <= wm").fetchall(),
        "frontier": frontier,
    }


def _got(c: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "PER_SECTOR": [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["N"], v["TOTAL"])
                       for v in values(c, "PER_SECTOR")],
        "FIRST_SECTOR": [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["N"], v["FIRST_PRICE"])
                         for v in values(c, "FIRST_SECTOR")],
    }  # fmt: skip


def _late(c: Any) -> list[tuple[Any, ...]]:
    out = []
    for e in errors(c):
        assert e["ERROR_NAME"] == "Late_Row", e
        assert e["PUMP_NAME"] in ("SECTOR_PUMP", "FIRST_PUMP"), e
        row = json.loads(bytes.fromhex(e["DATA_ROW"]))
        out.append((e["PUMP_NAME"], e["SOURCE_PARTITION"], row[1], row[-1][1]))  # KEPT's row
    return sorted(out)


@pytest.mark.parametrize("seed, crash_chance", [(3, 0.0), (8, 0.3)])
def test_a_partition_whose_rows_are_all_filtered_out_does_not_hold_the_windows(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = _app(tmp_path)
    assert [(r.partials, r.gated) for r in app.topology.repartitions] == [
        (True, False), (False, True)
    ]  # fmt: skip
    data = records(seed=seed)
    tail = _tail(data)
    counts = [sum(1 for d in data if d[0] == p) for p in range(PARTITIONS)]
    assert FILTERED and min(counts) > 300  # every partition receives records throughout
    want = _oracle(data, tail)
    assert len(want["late"]) > 5

    c = cluster(app, data + tail, seed)
    c.run(crash_chance=crash_chance, idle_at_end=False)  # no input goes idle
    assert crash_chance == 0 or c.crashes > 0
    got = _got(c)
    closed = want["frontier"]
    for stream in OUTPUTS:
        due = [r for r in want[stream] if r[1] + 10_000 <= closed]
        assert len(due) > 50
        assert_rows_close([r for r in got[stream] if r[1] + 10_000 <= closed], due)
    # the late rows are the filter's survivors' own, judged per input partition, once per
    # window pump (no row of a partition that sends rows is late for the quiet one)
    want_late = sorted(
        (pump, *row) for pump in ("FIRST_PUMP", "SECTOR_PUMP") for row in want["late"]
    )
    assert _late(c) == want_late

    # the inputs go idle: every window comes out, once, and nothing else is late
    c.idle()
    c.commit()
    c.run(crash_chance=crash_chance, idle_at_end=False)
    got = _got(c)
    for stream in OUTPUTS:
        assert_rows_close(got[stream], want[stream])
    assert _late(c) == want_late


def test_a_partition_that_passes_rows_now_and_then_loses_none(tmp_path: Path) -> None:
    """The quiet partition's filter lets a row through now and then, with gaps longer than
    the idle timeout: it turns quiet (its partials go, its windows stay open) and comes back,
    many times. Every row that passed the filter is in a result or in a ``Late_Row`` error
    (the row's own, or inside a partial aggregate's), each window result once."""
    code = CODE.replace(f"WHERE {_NOT_QUIET}", f"WHERE ({_NOT_QUIET}) OR change > 1.7")
    app = _app(tmp_path, code)
    data = records(seed=11)
    passed = [d for d in data if d[2]["ticker"] not in FILTERED or d[2]["change"] > 1.7]
    gaps = sorted(b[1] - a[1] for a, b in zip(
        [d for d in passed if d[0] == QUIET_PARTITION],
        [d for d in passed if d[0] == QUIET_PARTITION][1:], strict=False))  # fmt: skip
    assert sum(g > IDLE_TIMEOUT_MS for g in gaps) > 5  # it turns quiet, and back, often
    c = cluster(app, data, 11)
    c.run(crash_chance=0.2, max_batch=20)
    late: dict[str, int] = {"SECTOR_PUMP": 0, "FIRST_PUMP": 0}
    for e in errors(c):
        assert e["ERROR_NAME"] == "Late_Row", e
        row = json.loads(bytes.fromhex(e["DATA_ROW"]))
        # a partial aggregate that came after its window closed carries its count
        partial = e["MESSAGE"].startswith("partial aggregate")
        late[e["PUMP_NAME"]] += row[3] if partial else 1
    got = _got(c)
    assert sum(r[2] for r in got["PER_SECTOR"]) + late["SECTOR_PUMP"] == len(passed)
    assert sum(r[2] for r in got["FIRST_SECTOR"]) + late["FIRST_PUMP"] == len(passed)
