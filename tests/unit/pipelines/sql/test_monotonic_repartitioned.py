"""``GROUP BY MONOTONIC(x), keys`` over a keyed, partitioned input, run by every processor of
the application over in-memory topics with crashes: the pump reads every row in one partition,
merged in ROWTIME order (ties: by partition, then offset), so its groups close where they close
in that one stream (KDA's in-application stream) — the results, ROWTIMEs included, of one
engine fed the merged stream, each once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.sql.engine import run_rows
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.test_repartitioned_apps import (
    SRC,
    assert_rows_close,
    cluster,
    input_table,
    make_app,
    records,
)

#: five-second runs of a number computed from ROWTIME: monotonic in the merged stream, and a
#: group key that is no window of time; per sector
RUNS = f"""
CREATE OR REPLACE STREAM "RUNS" (run BIGINT, sector VARCHAR(16), n BIGINT, total DOUBLE);
CREATE OR REPLACE PUMP "RUN_PUMP" AS INSERT INTO "RUNS"
SELECT STREAM MONOTONIC(UNIX_TIMESTAMP({SRC}.ROWTIME) / 5000), sector, COUNT(*), SUM(price)
FROM {SRC} GROUP BY MONOTONIC(UNIX_TIMESTAMP({SRC}.ROWTIME) / 5000), sector;
"""


@pytest.mark.parametrize("seed, crash_chance", [(31, 0.0), (32, 0.4)])
def test_monotonic_groups_close_in_the_merged_stream(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, RUNS, ["RUNS"])
    assert [(r.partials, r.key) for r in app.topology.repartitions] == [
        (False, "SOURCE_SQL_STREAM_001: (one partition)")
    ]
    data = records(2_000, seed=seed)
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    merged = (
        input_table(data)
        .execute(
            "SELECT rowtime, ticker, sector, change, price, event_ms FROM s "
            "ORDER BY rowtime, part, off"
        )
        .fetchall()
    )
    streams, failures = run_rows(
        app.plan,
        [(rowtime, (t, s, ch, p, Timestamp(e))) for rowtime, t, s, ch, p, e in merged],
        batch_size=97,
    )
    assert failures == []
    want = [(r[1], r[2], r[3], r[4], int(r[0])) for r in streams["RUNS"]]
    out = c.rows("out-runs")
    keys = [o.key for o in out]
    assert None not in keys and len(keys) == len(set(keys))
    got = [
        (v["RUN"], v["SECTOR"], v["N"], v["TOTAL"], o.timestamp_ms)
        for o in out
        for v in [json.loads(o.value)]
    ]
    assert_rows_close(got, want)
    assert len(want) > 30
