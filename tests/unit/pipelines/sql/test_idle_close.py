"""An idle close, then more records: nothing may go missing.

The runtime closes the open windows of a partition that is caught up and quiet for
``IdleTimeoutMs`` (``on_idle``). A stalled producer or a broker outage then delivers records
whose timestamps are older than what that close emitted. Every input row must still end up
in a result or in the error stream with a reason, whatever the batches, commits and crashes
(:mod:`.local_cluster`):

* **ROWTIME windows** (KDA's ROWTIME is the time a row entered the stream): such a row is
  never late. The close moved its partition's ROWTIME past the windows it closed, and a
  stage behind a repartition gives a row of a partition that came back behind the others the
  stage's ROWTIME, so the row counts in a later window. The results' counts add up to the
  input, with no error at all, and each window comes out once.
* **event-time windows**: such a row is late by its event time (documented); it is a
  ``Late_Row`` error, either itself or — when its partition's partial aggregate reached the
  stage behind a repartition after the window closed there — inside that partial's error
  row, which carries the count. Results and errors together still add up to the input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.unit.pipelines.sql.local_cluster import LocalCluster
from tests.unit.pipelines.sql.test_repartitioned_apps import (
    PARTITIONS,
    SRC,
    errors,
    make_app,
    records,
    values,
)

_WINDOW = f"STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND)"

ROWTIME_APPS = {
    # per ticker: the input's key, no repartition
    "ticker": f"""
CREATE OR REPLACE STREAM "OUT" (ticker VARCHAR(4), n BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM ticker_symbol, COUNT(*) FROM {SRC} GROUP BY ticker_symbol, {_WINDOW};
""",
    # per sector: partial aggregates cross a repartition
    "sector_two_phase": f"""
CREATE OR REPLACE STREAM "OUT" (sector VARCHAR(16), n BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM sector, COUNT(*) FROM {SRC} GROUP BY sector, {_WINDOW};
""",
    # one count per window over every partition
    "global_two_phase": f"""
CREATE OR REPLACE STREAM "OUT" (n BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM COUNT(*) FROM {SRC} GROUP BY {_WINDOW};
""",
    # FIRST_VALUE does not merge: the rows cross the repartition
    "sector_rows": f"""
CREATE OR REPLACE STREAM "OUT" (sector VARCHAR(16), n BIGINT, first_price REAL);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM sector, COUNT(*), FIRST_VALUE(price) FROM {SRC} GROUP BY sector, {_WINDOW};
""",
    # a stagger window per sector, behind a repartition of the rows
    "sector_stagger": f"""
CREATE OR REPLACE STREAM "OUT" (sector VARCHAR(16), n BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM sector, COUNT(*) FROM {SRC}
WINDOWED BY STAGGER (PARTITION BY sector RANGE INTERVAL '5' SECOND);
""",
}


#: how much older than their neighbours the stalled records are (three windows)
STALL_MS = 30_000


def _stalled_run(
    tmp_path: Path, code: str, seed: int, crash_chance: float
) -> tuple[LocalCluster, int]:
    """The first half of the records, then every partition goes idle (its windows close);
    then the second half, every third of which is ``STALL_MS`` older (timestamp and event
    time): a producer that stalled, delivering what it made before the close."""
    app = make_app(tmp_path, code, ["OUT"])
    data = records(2_000, seed=seed)
    half = len(data) // 2
    c = LocalCluster(app, {"in": PARTITIONS}, seed=seed)
    for part, ts, value in data[:half]:
        c.produce("in", part, [(ts, json.dumps(value).encode())])
    c.run(crash_chance=crash_chance)
    for i, (part, ts, value) in enumerate(data[half:]):
        if i % 3 == 0:
            ts -= STALL_MS
            value = {**value, "event_ms": value["event_ms"] - STALL_MS}
        c.produce("in", part, [(ts, json.dumps(value).encode())])
    c.run(crash_chance=crash_chance)
    return c, len(data)


@pytest.mark.parametrize("name", sorted(ROWTIME_APPS))
@pytest.mark.parametrize("seed, crash_chance", [(1, 0.0), (2, 0.4)])
def test_rowtime_windows_lose_no_row_to_an_idle_close(
    tmp_path: Path, name: str, seed: int, crash_chance: float
) -> None:
    c, sent = _stalled_run(tmp_path, ROWTIME_APPS[name], seed, crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    results = values(c, "OUT")  # each window once
    assert errors(c) == []  # no row is late on ROWTIME
    assert sum(v["N"] for v in results) == sent


EVENT_TIME_APPS = {
    "ticker": f"""
CREATE OR REPLACE STREAM "OUT" (ticker VARCHAR(4), n BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM ticker_symbol, COUNT(*) FROM {SRC}
GROUP BY ticker_symbol, STEP(event_time BY INTERVAL '10' SECOND);
""",
    "sector_two_phase": f"""
CREATE OR REPLACE STREAM "OUT" (sector VARCHAR(16), n BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM sector, COUNT(*) FROM {SRC}
GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);
""",
    "sector_rows": f"""
CREATE OR REPLACE STREAM "OUT" (sector VARCHAR(16), n BIGINT, first_price REAL);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM sector, COUNT(*), FIRST_VALUE(price) FROM {SRC}
GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);
""",
}


def _rows_in(error: dict[str, Any]) -> int:
    """How many input rows a ``Late_Row`` error stands for: one, or a partial aggregate's
    count (its data row ends with the COUNT(*))."""
    assert error["ERROR_NAME"] == "Late_Row", error
    if error["MESSAGE"].startswith("partial aggregate"):
        row: Sequence[Any] = json.loads(bytes.fromhex(error["DATA_ROW"]))
        count = int(row[-1])
        assert count > 0
        return count
    return 1


@pytest.mark.parametrize("name", sorted(EVENT_TIME_APPS))
@pytest.mark.parametrize("seed, crash_chance", [(3, 0.0), (4, 0.4)])
def test_event_time_rows_after_an_idle_close_are_results_or_late_errors(
    tmp_path: Path, name: str, seed: int, crash_chance: float
) -> None:
    c, sent = _stalled_run(tmp_path, EVENT_TIME_APPS[name], seed, crash_chance)
    results = values(c, "OUT")
    late = sum(_rows_in(e) for e in errors(c))
    assert late > 0  # the stalled rows' windows had closed
    assert sum(v["N"] for v in results) + late == sent
