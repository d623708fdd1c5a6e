"""Stages and repartitions: where a pump runs follows how its input is partitioned, which the
planner follows through renames and projections (key lineage)."""

from __future__ import annotations

from pipelines.sql.plan import plan_application
from pipelines.sql.stages import Topology, partials_stream, plan_stages, repartition_topic
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS

INPUTS = {"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}
SRC = '"SOURCE_SQL_STREAM_001"'
KEYED = {"SOURCE_SQL_STREAM_001": ("TICKER_SYMBOL",)}
WINDOW = "STEP(ROWTIME BY INTERVAL '1' MINUTE)"


def stages(code: str, keys: dict[str, tuple[str, ...]] = KEYED) -> Topology:
    return plan_stages(plan_application(code, application="app", inputs=INPUTS), keys)


def test_a_window_by_the_partition_key_runs_where_its_input_is() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "A" (t VARCHAR(4), n BIGINT);\n'
        f"CREATE OR REPLACE PUMP PA AS INSERT INTO A SELECT STREAM ticker_symbol, COUNT(*)\n"
        f"FROM {SRC} GROUP BY ticker_symbol, sector, {WINDOW};"
    )
    assert t.repartitions == [] and len(t.stages) == 1
    assert [s.pump for s in t.stages[0].steps] == ["PA"]
    assert t.notes["PA"] == (
        "no repartition: its keys include TICKER_SYMBOL, the input topic's key: Inputs "
        "PartitionKey of SOURCE_SQL_STREAM_001"
    )
    assert t.partitioning["A"] is not None and t.partitioning["A"].columns == ("T",)


def test_a_window_by_another_column_is_repartitioned_in_two_phases() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "B" (s VARCHAR(16), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "C" (s VARCHAR(16), n BIGINT);\n'
        f"CREATE OR REPLACE PUMP PB AS INSERT INTO B SELECT STREAM sector, COUNT(*)\n"
        f"FROM {SRC} GROUP BY sector, {WINDOW};\n"
        "CREATE OR REPLACE PUMP PC AS INSERT INTO C SELECT STREAM s, n FROM B WHERE n > 1;"
    )
    (r,) = t.repartitions
    assert (r.topic, r.pump, r.partials, r.stage, r.key) == (
        "app-PB-repartition", "PB", True, 1, "SECTOR"
    )
    assert "PB groups by SECTOR, window start, but SOURCE_SQL_STREAM_001 is partitioned by " \
           "TICKER_SYMBOL" in r.reason  # fmt: skip
    zero, one = t.stages
    assert [(s.pump, s.role, s.target) for s in zero.steps] == [
        ("PB", "partial", partials_stream("PB"))
    ]
    assert [o.repartition.topic for o in zero.outbound] == ["app-PB-repartition"]
    assert one.reads == r and one.inbound == (partials_stream("PB"),)
    # the stateless pump after it runs behind the repartition too
    assert [(s.pump, s.role) for s in one.steps] == [("PB", "final"), ("PC", "")]
    assert t.partitioning["C"] is not None and t.partitioning["C"].columns == ("S",)


def test_without_a_declared_key_every_window_is_repartitioned() -> None:
    code = (
        'CREATE OR REPLACE STREAM "A" (t VARCHAR(4), n BIGINT);\n'
        f"CREATE OR REPLACE PUMP PA AS INSERT INTO A SELECT STREAM ticker_symbol, COUNT(*)\n"
        f"FROM {SRC} GROUP BY ticker_symbol, {WINDOW};"
    )
    t = stages(code, {})
    (r,) = t.repartitions
    assert "is not partitioned by any of its columns" in r.reason


def test_the_key_is_followed_through_renames_but_not_computations() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "R" (sym VARCHAR(4), up VARCHAR(4), p REAL);\n'
        'CREATE OR REPLACE STREAM "A" (sym VARCHAR(4), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "B" (up VARCHAR(4), n BIGINT);\n'
        "CREATE OR REPLACE PUMP P1 AS INSERT INTO R\n"
        f"SELECT STREAM s.ticker_symbol AS sym, UPPER(ticker_symbol), price FROM {SRC} AS s;\n"
        f"CREATE OR REPLACE PUMP P2 AS INSERT INTO A SELECT STREAM sym, COUNT(*) FROM R\n"
        f"GROUP BY sym, STEP(R.ROWTIME BY INTERVAL '1' MINUTE);\n"
        f"CREATE OR REPLACE PUMP P3 AS INSERT INTO B SELECT STREAM up, COUNT(*) FROM R\n"
        f"GROUP BY up, STEP(R.ROWTIME BY INTERVAL '1' MINUTE);"
    )
    assert t.partitioning["R"] is not None and t.partitioning["R"].columns == ("SYM",)
    assert t.notes["P2"].startswith("no repartition: its keys include SYM")
    assert [r.pump for r in t.repartitions] == ["P3"]  # UPPER(x) may join two keys' groups


def test_rows_are_repartitioned_for_joins_on_other_columns_both_sides_to_one_topic() -> None:
    over = "OVER (RANGE INTERVAL '1' MINUTE PRECEDING)"
    code = (
        'CREATE OR REPLACE STREAM "J" (t VARCHAR(4), u VARCHAR(4));\n'
        "CREATE OR REPLACE PUMP PJ AS INSERT INTO J SELECT STREAM a.ticker_symbol, "
        f"b.ticker_symbol FROM {SRC} AS a JOIN {SRC} {over} AS b ON a.{{col}} = b.{{col}};"
    )
    same_key = stages(code.format(col="ticker_symbol"))
    assert same_key.repartitions == []  # co-partitioned already
    self_join = stages(code.format(col="sector"))  # behind a repartition, both sides apart
    (behind,) = [s for s in self_join.stages if s.reads is not None]
    left, right = behind.inbound
    assert left == "SOURCE_SQL_STREAM_001" and right != left
    assert (behind.steps[0].source, behind.steps[0].right_source) == (left, right)
    assert [o.side for o in self_join.stages[0].outbound] == [0, 1]
    t = stages(
        'CREATE OR REPLACE STREAM "U" (t VARCHAR(4), s VARCHAR(16));\n'
        'CREATE OR REPLACE STREAM "D" (t VARCHAR(4), s VARCHAR(16));\n'
        'CREATE OR REPLACE STREAM "J" (t VARCHAR(4), u VARCHAR(4));\n'
        f"CREATE OR REPLACE PUMP PU AS INSERT INTO U SELECT STREAM ticker_symbol, sector\n"
        f"FROM {SRC};\n"
        f"CREATE OR REPLACE PUMP PD AS INSERT INTO D SELECT STREAM ticker_symbol, sector\n"
        f"FROM {SRC};\n"
        "CREATE OR REPLACE PUMP PJ AS INSERT INTO J SELECT STREAM u.t, d.t "
        f"FROM U AS u JOIN D {over} AS d ON u.s = d.s;"
    )
    (r,) = t.repartitions
    assert not r.partials and r.key == "U: S; D: S"
    assert [(o.stream, o.side) for o in t.stages[0].outbound] == [("U", 0), ("D", 1)]
    assert t.stages[1].inbound == ("U", "D")


def test_sliding_and_stagger_windows_by_other_columns_get_rows() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "S" (s VARCHAR(16), a DOUBLE);\n'
        'CREATE OR REPLACE STREAM "G" (s VARCHAR(16), n BIGINT);\n'
        "CREATE OR REPLACE PUMP PS AS INSERT INTO S SELECT STREAM sector, AVG(price) OVER W\n"
        f"FROM {SRC} WINDOW W AS (PARTITION BY sector RANGE INTERVAL '1' MINUTE PRECEDING);\n"
        "CREATE OR REPLACE PUMP PG AS INSERT INTO G SELECT STREAM sector, COUNT(*)\n"
        f"FROM {SRC} WINDOWED BY STAGGER (PARTITION BY sector RANGE INTERVAL '1' MINUTE);"
    )
    assert [(r.pump, r.partials) for r in t.repartitions] == [("PS", False), ("PG", False)]
    assert [s.index for s in t.stages] == [0, 1, 2]


def test_first_value_windows_take_rows_not_partials() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "F" (s VARCHAR(16), f REAL);\n'
        "CREATE OR REPLACE PUMP PF AS INSERT INTO F SELECT STREAM sector, FIRST_VALUE(price)\n"
        f"FROM {SRC} GROUP BY sector, {WINDOW};"
    )
    (r,) = t.repartitions
    assert not r.partials


def test_a_stream_written_on_both_sides_of_a_repartition_is_brought_together() -> None:
    code = (
        'CREATE OR REPLACE STREAM "M" (s VARCHAR(16), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "OUT" (s VARCHAR(16), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "SLIDE" (s VARCHAR(16), n BIGINT);\n'
        f"CREATE OR REPLACE PUMP P1 AS INSERT INTO M SELECT STREAM sector, COUNT(*)\n"
        f"FROM {SRC} GROUP BY sector, {WINDOW};\n"
        f"CREATE OR REPLACE PUMP P2 AS INSERT INTO M SELECT STREAM sector, 1 FROM {SRC};\n"
    )
    written_only = stages(code)  # an output stream: each stage writes its rows
    assert len(written_only.stages) == 2
    t = stages(
        code + "CREATE OR REPLACE PUMP P3 AS INSERT INTO OUT SELECT STREAM s, n FROM M;\n"
        "CREATE OR REPLACE PUMP P4 AS INSERT INTO SLIDE SELECT STREAM s, COUNT(*) OVER "
        "(PARTITION BY s RANGE INTERVAL '1' MINUTE PRECEDING) FROM OUT;"
    )
    # the stateless P3 runs in both stages that write M; its target is written in both too
    assert [(s.index, [st.pump for st in s.steps]) for s in t.stages] == [
        (0, ["P1", "P2", "P3"]), (1, ["P1", "P3"]), (2, ["P4"])
    ]  # fmt: skip
    assert [st.role for st in t.stages[0].steps] == ["partial", "", ""]
    assert t.partitioning["OUT"] is None
    # the sliding window gets the rows of OUT from both stages, through one topic
    (r,) = [r for r in t.repartitions if r.pump == "P4"]
    assert not r.partials and r.stage == 2
    writers = [(stage.index, out.stream, out.side) for stage, out in t.writers(r)]
    assert writers == [(0, "OUT", 0), (1, "OUT", 0)]
    assert t.stages[2].inbound == ("OUT",)
    assert r.reason.startswith(
        "P4 reads a stream that pumps on both sides of a repartition write (OUT in stages 0, 1)"
    )
    assert t.notes["P3"].startswith("runs in stages 0, 1, each of which writes M")


def test_a_join_of_a_stream_written_on_both_sides_of_a_repartition() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "M" (s VARCHAR(16), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "J" (s VARCHAR(16), n BIGINT, m BIGINT);\n'
        f"CREATE OR REPLACE PUMP P1 AS INSERT INTO M SELECT STREAM sector, COUNT(*)\n"
        f"FROM {SRC} GROUP BY sector, {WINDOW};\n"
        f"CREATE OR REPLACE PUMP P2 AS INSERT INTO M SELECT STREAM sector, 1 FROM {SRC};\n"
        "CREATE OR REPLACE PUMP P3 AS INSERT INTO J SELECT STREAM a.s, a.n, b.n FROM M AS a "
        "JOIN M OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS b ON a.s = b.s;"
    )
    (r,) = [r for r in t.repartitions if r.pump == "P3"]
    writers = sorted((stage.index, out.side) for stage, out in t.writers(r))
    assert writers == [(0, 0), (0, 1), (1, 0), (1, 1)]  # each side from each stage


def test_topic_names_and_explain() -> None:
    assert repartition_topic("app", "My Pump/1") == "app-My_Pump_1-repartition"
    t = stages(
        'CREATE OR REPLACE STREAM "B" (s VARCHAR(16), n BIGINT);\n'
        f"CREATE OR REPLACE PUMP PB AS INSERT INTO B SELECT STREAM sector, COUNT(*)\n"
        f"FROM {SRC} GROUP BY sector, {WINDOW};"
    )
    text = "\n".join(t.explain())
    assert "stage 0 reads the input topics" in text
    assert "pump PB (partial): SOURCE_SQL_STREAM_001 → partial aggregates → " \
           "app-PB-repartition" in text  # fmt: skip
    assert "stage 1 reads repartition topic app-PB-repartition (partial aggregates, keyed by " \
           "SECTOR)\n    why: PB groups by SECTOR, window start, but SOURCE_SQL_STREAM_001 is " \
           "partitioned by TICKER_SYMBOL" in text  # fmt: skip
    assert "pump PB (final): partial aggregates → B" in text


def test_a_late_gate_in_each_stage_that_writes_the_stream() -> None:
    t = stages(
        'CREATE OR REPLACE STREAM "M" (s VARCHAR(16), et TIMESTAMP, n BIGINT);\n'
        'CREATE OR REPLACE STREAM "F" (s VARCHAR(16), ws TIMESTAMP, first_n BIGINT);\n'
        f"CREATE OR REPLACE PUMP P1 AS INSERT INTO M SELECT STREAM sector, "
        f"STEP({SRC}.ROWTIME BY INTERVAL '1' MINUTE), COUNT(*)\n"
        f"FROM {SRC} GROUP BY sector, {WINDOW};\n"
        f"CREATE OR REPLACE PUMP P2 AS INSERT INTO M SELECT STREAM sector, event_time, 1 "
        f"FROM {SRC};\n"
        "CREATE OR REPLACE PUMP P3 AS INSERT INTO F SELECT STREAM s, STEP(et BY INTERVAL "
        "'1' MINUTE), FIRST_VALUE(n) FROM M GROUP BY s, STEP(et BY INTERVAL '1' MINUTE);"
    )
    (r,) = [r for r in t.repartitions if r.pump == "P3"]
    assert r.gated and r.gathered == ("M",)
    gates = [(s.index, st.source) for s in t.stages for st in s.steps if st.role == "gate"]
    assert gates == [(0, "M"), (1, "M")]
    assert sorted(stage.index for stage, _ in t.writers(r)) == [0, 1]
