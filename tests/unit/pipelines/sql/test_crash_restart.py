"""The T-sort and the stream joins of every kind, run by every processor of an application over
in-memory topics (:mod:`.local_cluster`), killed at random points and restored from their
changelogs: what comes out with crashes is what comes out without, each row once.

The run without crashes is checked too, against one engine fed the input partitions merged in
ROWTIME order (ties: by partition, then offset): what the stage behind a repartition sees
(:mod:`.test_repartitioned_apps` tests that merge); a join on the partition key runs where
its input is, so it is checked against one engine per input partition.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pipelines.sql.engine import run_rows
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.local_cluster import LocalCluster
from tests.unit.pipelines.sql.test_repartitioned_apps import (
    PARTITIONS,
    SRC,
    assert_rows_close,
    cluster,
    input_table,
    make_app,
    records,
)

_SIDES = f"""
CREATE OR REPLACE STREAM "UPS" (ticker VARCHAR(4), sector VARCHAR(16), price REAL);
CREATE OR REPLACE STREAM "DOWNS" (ticker VARCHAR(4), sector VARCHAR(16), price REAL);
CREATE OR REPLACE PUMP "UP_PUMP" AS INSERT INTO "UPS"
SELECT STREAM ticker_symbol, sector, price FROM {SRC} WHERE change > 1;
CREATE OR REPLACE PUMP "DOWN_PUMP" AS INSERT INTO "DOWNS"
SELECT STREAM ticker_symbol, sector, price FROM {SRC} WHERE change < -1;
"""
_PAIRS = "(up_ticker VARCHAR(4), down_ticker VARCHAR(4), up_price REAL, down_price REAL)"
_SELECT = "SELECT STREAM u.ticker, d.ticker, u.price, d.price"

#: the joins behind a repartition (on the sector, or none): output stream -> FROM … JOIN …
JOINS = {
    # RIGHT: a down without an up of its sector in the 2 s before it, with NULLs
    "RIGHT_PAIRS": """FROM "UPS" OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS u
        RIGHT JOIN "DOWNS" AS d ON u.sector = d.sector""",
    # LEFT with the window on the kept side: an up comes out alone 3 s after it
    "LEFT_PAIRS": """FROM "UPS" OVER (RANGE INTERVAL '3' SECOND PRECEDING) AS u
        LEFT JOIN "DOWNS" AS d ON u.sector = d.sector""",
    # FULL OUTER with windows on both sides
    "FULL_PAIRS": """FROM "UPS" OVER (RANGE INTERVAL '1' SECOND PRECEDING) AS u
        FULL OUTER JOIN "DOWNS" OVER (RANGE INTERVAL '2' SECOND FOLLOWING) AS d
        ON u.sector = d.sector""",
    # CROSS: every pair the window admits, whatever the sector
    "CROSS_PAIRS": """FROM "UPS" AS u CROSS JOIN "DOWNS" OVER (RANGE INTERVAL '1' SECOND
        PRECEDING) AS d WHERE u.price > 100 AND d.price > 100""",
    # ROWS windows on both sides, FULL: counted over the whole stream, in one partition
    "ROWS_PAIRS": """FROM "UPS" OVER (ROWS 5 PRECEDING) AS u
        FULL JOIN "DOWNS" OVER (ROWS 3 FOLLOWING) AS d ON u.sector = d.sector""",
}
#: a FULL OUTER join on the key the input is partitioned by: no repartition
KEYED = """FROM "UPS" OVER (RANGE INTERVAL '1' SECOND PRECEDING) AS u
        FULL OUTER JOIN "DOWNS" OVER (RANGE INTERVAL '2' SECOND FOLLOWING) AS d
        ON u.ticker = d.ticker"""
TSORT = f"""
CREATE OR REPLACE STREAM "SORTED" (ticker VARCHAR(4), price REAL, event TIMESTAMP);
CREATE OR REPLACE PUMP "SORT_PUMP" AS INSERT INTO "SORTED"
SELECT STREAM s.event_time AS ROWTIME, ticker_symbol, price, s.event_time FROM {SRC} AS s
ORDER BY s.event_time WITHIN INTERVAL '2' SECOND, ticker_symbol;
"""


def _join_code(joins: dict[str, str]) -> str:
    code = _SIDES
    for name, source in joins.items():
        code += f"""CREATE OR REPLACE STREAM "{name}" {_PAIRS};
CREATE OR REPLACE PUMP "{name}_PUMP" AS INSERT INTO "{name}" {_SELECT} {source};
"""
    return code


def _outputs(c: LocalCluster, topics: list[str]) -> dict[str, Counter[tuple[Any, ...]]]:
    """Each topic's records as (partition, timestamp, value): the same record twice counts
    twice. An error row's ERROR_TIME (and its record's timestamp) is when the error happened,
    which depends on the batch the row came in: left out."""
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    for t in topics:
        out[t] = Counter()
        for o in c.rows(t):
            if t == "errors":
                value = json.loads(o.value)
                del value["ERROR_TIME"]
                out[t][(o.partition, json.dumps(value, sort_keys=True))] += 1
            else:
                out[t][(o.partition, o.timestamp_ms, o.value)] += 1
    return out


def _crash_equals_no_crash(
    tmp_path: Path, code: str, outputs: list[str], seed: int
) -> LocalCluster:
    """Run the application without crashes and with them; the same records come out."""
    topics = [f"out-{o.lower()}" for o in outputs] + ["errors"]
    data = records(2_000)
    runs = []
    for crash_chance in (0.0, 0.4):
        app = make_app(tmp_path, code, outputs)
        c = cluster(app, data, seed)
        c.run(crash_chance=crash_chance)
        assert crash_chance == 0 or c.crashes > 2
        runs.append(c)
    calm, crashed = runs
    assert _outputs(crashed, topics) == _outputs(calm, topics)
    return calm


def _merged(data: list[tuple[int, int, dict[str, Any]]], part: int | None = None) -> list[Any]:
    """The input as one engine sees it: every partition (or ``part``) by ROWTIME, ties by
    partition then offset; the ROWTIME as the record's timestamp."""
    where = "" if part is None else f"WHERE part = {part}"
    rows = input_table(data).execute(
        "SELECT rowtime, ticker, sector, change, price, event_ms FROM s "
        f"{where} ORDER BY rowtime, part, off"
    ).fetchall()
    return [(rowtime, (t, s, ch, p, Timestamp(e))) for rowtime, t, s, ch, p, e in rows]


def _got(c: LocalCluster, stream: str, columns: list[str]) -> list[tuple[Any, ...]]:
    return [
        (o.timestamp_ms, *(json.loads(o.value)[k] for k in columns))
        for o in c.rows(f"out-{stream.lower()}")
    ]


def _want(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(int(r[0]), *r[1:]) for r in rows]


PAIR_COLUMNS = ["UP_TICKER", "DOWN_TICKER", "UP_PRICE", "DOWN_PRICE"]


@pytest.mark.parametrize("seed", [31, 32])
def test_right_left_full_cross_and_rows_joins_survive_crashes(tmp_path: Path, seed: int) -> None:
    outputs = list(JOINS)
    calm = _crash_equals_no_crash(tmp_path, _join_code(JOINS), outputs, seed)
    app = make_app(tmp_path, _join_code(JOINS), outputs)
    assert {r.pump for r in app.topology.repartitions} == {f"{o}_PUMP" for o in outputs}
    streams, failures = run_rows(app.plan, _merged(records(2_000)), batch_size=97)
    assert failures == []
    for name in outputs:
        got = _got(calm, name, PAIR_COLUMNS)
        assert_rows_close(got, _want(streams[name]))
        assert len(got) > 100, name
        if name != "CROSS_PAIRS":  # the outer joins keep rows without a match
            assert any(None in r for r in got), name


def test_a_join_on_the_key_survives_crashes(tmp_path: Path) -> None:
    joins = {"KEYED_PAIRS": KEYED}
    calm = _crash_equals_no_crash(tmp_path, _join_code(joins), list(joins), 33)
    app = make_app(tmp_path, _join_code(joins), list(joins))
    assert not app.topology.repartitions
    data = records(2_000)
    want: list[tuple[Any, ...]] = []
    for part in range(PARTITIONS):
        streams, failures = run_rows(app.plan, _merged(data, part), batch_size=97)
        assert failures == []
        want += _want(streams["KEYED_PAIRS"])
    got = _got(calm, "KEYED_PAIRS", PAIR_COLUMNS)
    assert_rows_close(got, want)
    assert sum(1 for r in got if None not in r) > 20
    assert sum(1 for r in got if None in r) > 100


@pytest.mark.parametrize("seed", [34, 35])
def test_the_t_sort_survives_crashes(tmp_path: Path, seed: int) -> None:
    """KDA's T-sort behind a repartition: the same rows out, in the same order, and the same
    ``Out_Of_Order_Row`` errors, with crashes and without."""
    calm = _crash_equals_no_crash(tmp_path, TSORT, ["SORTED"], seed)
    app = make_app(tmp_path, TSORT, ["SORTED"])
    streams, failures = run_rows(app.plan, _merged(records(2_000)), batch_size=97)
    got = _got(calm, "SORTED", ["TICKER", "PRICE"])
    want = [(int(r[0]), r[1], r[2]) for r in streams["SORTED"]]
    assert_rows_close(got, want)
    # one partition sorts the whole stream: its records come out in ROWTIME order
    assert [g[0] for g in got] == sorted(g[0] for g in got)
    late = [json.loads(o.value) for o in calm.rows("errors")]
    assert len(late) == len(failures) > 10
    assert {e["ERROR_NAME"] for e in late} == {f.name for f in failures} == {"Out_Of_Order_Row"}
