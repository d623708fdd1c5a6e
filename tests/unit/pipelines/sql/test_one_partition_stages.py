"""Streams in one partition: what a pump writes behind a repartition whose records all have
one key (a whole-stream ORDER BY, a model, a global ROWTIME window's merge) is in one
partition of one stage, and a stateful pump reading it — by any key, or none — runs there
instead of shuffling every row to one partition again. And what ``sql explain`` says a
repartition topic's records are keyed by: the columns hashed, never the window start."""

from __future__ import annotations

from pipelines.sql.stages import Partitioning, Topology
from tests.unit.pipelines.sql.test_stages import SRC, WINDOW, stages

SORTED = (
    'CREATE OR REPLACE STREAM "S" (ticker_symbol VARCHAR(4), sector VARCHAR(16), price REAL);\n'
    "CREATE OR REPLACE PUMP P1 AS INSERT INTO S SELECT STREAM ticker_symbol, sector, price\n"
    f"FROM {SRC} ORDER BY FLOOR({SRC}.ROWTIME TO SECOND), price DESC;\n"
)
ONE = Partitioning("repartition topic app-P1-repartition", ())


def _stage_of(t: Topology, pump: str) -> int:
    return next(
        stage.index for stage in t.stages for step in stage.steps
        if step.pump == pump and not step.role
    )  # fmt: skip


def test_a_sorted_stream_is_in_one_partition_and_its_readers_stay_there() -> None:
    t = stages(
        SORTED + 'CREATE OR REPLACE STREAM "BY_SECTOR" (sector VARCHAR(16), n BIGINT);\n'
        "CREATE OR REPLACE PUMP P2 AS INSERT INTO BY_SECTOR SELECT STREAM sector, COUNT(*)\n"
        "FROM S GROUP BY sector, STEP(S.ROWTIME BY INTERVAL '1' MINUTE);\n"
        'CREATE OR REPLACE STREAM "ALL_" (n BIGINT);\n'
        "CREATE OR REPLACE PUMP P3 AS INSERT INTO ALL_ SELECT STREAM COUNT(*) FROM S\n"
        "GROUP BY STEP(S.ROWTIME BY INTERVAL '1' MINUTE);\n"
        'CREATE OR REPLACE STREAM "RESORTED" (sector VARCHAR(16), price REAL);\n'
        "CREATE OR REPLACE PUMP P4 AS INSERT INTO RESORTED SELECT STREAM sector, price FROM S\n"
        "ORDER BY FLOOR(S.ROWTIME TO MINUTE), sector;\n"
    )
    # one shuffle: the sort's; a window by sector, a global window and another sort of the
    # sorted stream run behind it, in its one partition
    assert [r.pump for r in t.repartitions] == ["P1"]
    assert t.repartitions[0].key == "P1$1: (one partition)"
    assert {p: _stage_of(t, p) for p in ("P1", "P2", "P3", "P4")} == {
        "P1": 1, "P2": 1, "P3": 1, "P4": 1,
    }  # fmt: skip
    for stream in ("S", "BY_SECTOR", "ALL_", "RESORTED"):
        assert t.partitioning[stream] == ONE, stream
    assert t.notes["P2"] == (
        "no repartition: S is in one partition already, of repartition topic app-P1-repartition"
    )
    text = "\n".join(t.explain())
    assert "  stream S is in one partition (repartition topic app-P1-repartition)" in text
    assert "    pump P2: S → BY_SECTOR (no repartition: S is in one partition already" in text


def test_a_join_of_two_streams_of_the_same_one_partition_stays_there() -> None:
    t = stages(
        SORTED + 'CREATE OR REPLACE STREAM "UPS" (ticker VARCHAR(4), sector VARCHAR(16));\n'
        "CREATE OR REPLACE PUMP U AS INSERT INTO UPS SELECT STREAM ticker_symbol, sector\n"
        "FROM S WHERE price > 10;\n"
        'CREATE OR REPLACE STREAM "PAIRS" (sector VARCHAR(16), a VARCHAR(4), b VARCHAR(4));\n'
        "CREATE OR REPLACE PUMP J AS INSERT INTO PAIRS SELECT STREAM u.sector, u.ticker,\n"
        "s.ticker_symbol FROM UPS AS u JOIN S OVER (RANGE INTERVAL '1' SECOND PRECEDING) AS s\n"
        "ON u.sector = s.sector;\n"
    )
    assert [r.pump for r in t.repartitions] == ["P1"]
    assert _stage_of(t, "J") == 1 and t.partitioning["PAIRS"] == ONE


def test_a_global_rowtime_window_merges_in_one_partition_and_what_follows_stays() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "T" (sector VARCHAR(16), n BIGINT);\n'
        "CREATE OR REPLACE PUMP G AS INSERT INTO T SELECT STREAM 'ALL', COUNT(*)\n"
        f"FROM {SRC} GROUP BY {WINDOW};\n"
        'CREATE OR REPLACE STREAM "U" (sector VARCHAR(16), n BIGINT);\n'
        "CREATE OR REPLACE PUMP H AS INSERT INTO U SELECT STREAM sector, SUM(n) FROM T\n"
        "GROUP BY sector, STEP(T.ROWTIME BY INTERVAL '5' MINUTE);\n"
    )
    (r,) = t.repartitions
    assert (r.pump, r.partials, r.key) == ("G", True, "(one partition)")
    assert t.partitioning["T"] == Partitioning("repartition topic app-G-repartition", ())
    assert _stage_of(t, "H") == 1


def test_a_global_event_time_window_is_spread_by_window_start_not_in_one_partition() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "T" (sector VARCHAR(16), n BIGINT);\n'
        "CREATE OR REPLACE PUMP G AS INSERT INTO T SELECT STREAM 'ALL', COUNT(*)\n"
        f"FROM {SRC} GROUP BY STEP(event_time BY INTERVAL '1' MINUTE);\n"
        'CREATE OR REPLACE STREAM "U" (sector VARCHAR(16), n BIGINT);\n'
        "CREATE OR REPLACE PUMP H AS INSERT INTO U SELECT STREAM sector, SUM(n) FROM T\n"
        "GROUP BY sector, STEP(T.ROWTIME BY INTERVAL '5' MINUTE);\n"
    )
    assert [(r.pump, r.key) for r in t.repartitions] == [("G", "window start"), ("H", "SECTOR")]
    assert t.partitioning["T"] is None


def test_rows_of_a_window_are_keyed_by_its_group_alone() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "FIRSTS" (sector VARCHAR(16), p REAL);\n'
        "CREATE OR REPLACE PUMP F AS INSERT INTO FIRSTS SELECT STREAM sector, FIRST_VALUE(price)\n"
        f"FROM {SRC} GROUP BY sector, {WINDOW};\n"
        'CREATE OR REPLACE STREAM "LASTS" (sector VARCHAR(16), p REAL);\n'
        "CREATE OR REPLACE PUMP L AS INSERT INTO LASTS SELECT STREAM sector, LAST_VALUE(p)\n"
        "FROM FIRSTS GROUP BY sector, STEP(FIRSTS.ROWTIME BY INTERVAL '1' MINUTE);\n"
    )
    # the window start is not part of the record key (shuffle.py): explain says the sector,
    # and FIRSTS is partitioned by it, so the window by sector after it needs no shuffle
    (r,) = t.repartitions
    assert (r.pump, r.partials, r.key) == ("F", False, "SOURCE_SQL_STREAM_001: SECTOR")
    text = "\n".join(t.explain())
    assert "(rows, keyed by SOURCE_SQL_STREAM_001: SECTOR)\n" in text
    assert "window start)" not in text
    assert t.partitioning["FIRSTS"] == Partitioning("repartition topic app-F-repartition",
                                                    ("SECTOR",))  # fmt: skip
    assert _stage_of(t, "L") == 1
    assert t.notes["L"] == "no repartition: its keys include SECTOR, repartition topic " \
                           "app-F-repartition"  # fmt: skip


def test_a_stream_in_one_partition_and_a_keyed_one_are_not_co_partitioned() -> None:
    t = stages(
        SORTED + 'CREATE OR REPLACE STREAM "PAIRS" (sector VARCHAR(16), a VARCHAR(4));\n'
        "CREATE OR REPLACE PUMP J AS INSERT INTO PAIRS SELECT STREAM s.sector, s.ticker_symbol\n"
        f"FROM S JOIN {SRC} OVER (RANGE INTERVAL '1' SECOND PRECEDING) AS i\n"
        "ON S.sector = i.sector;\n"
    )
    assert [r.pump for r in t.repartitions] == ["P1", "J"]
