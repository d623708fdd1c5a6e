"""Planning RANDOM_CUT_FOREST and RANDOM_CUT_FOREST_WITH_EXPLANATION, and running them on the
offline engine with the Developer Guide's SQL as published over the guide's data: planted
anomalies score above the 99th percentile of the other records, explanations name the
anomalous column and its direction, bad calls are refused at their position, and a partition
restored from its changelog at any commit gives the same rows, scores included."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.engine import run_rows
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.ml_cases import (
    ANOMALY,
    EXPLANATION,
    HEART,
    PRESSURE,
    blood_pressures,
    drive_engine,
    guide_plan,
    heart_rates,
    p99,
)


# -- the guide's examples ---------------------------------------------------------------------
def test_anomaly_detection_ranks_the_high_heart_rates_on_top() -> None:
    records = heart_rates(8000, seed=1)
    streams, failures = run_rows(guide_plan(ANOMALY, HEART), records)
    assert failures == []
    rows = streams["TEMP_STREAM"]
    assert len(rows) == len(records)  # one row out per row in
    assert [r[0] for r in rows] == [Timestamp(ts) for ts, _ in records]  # the input's ROWTIME
    assert [r[1:3] for r in rows] == [v for _, v in records]
    assert all(r[3] == 0.0 for r in rows[:65])  # the learning phase
    learned = rows[1000:]
    high = [r[3] for r in learned if r[2] == "HIGH"]
    normal = [r[3] for r in learned if r[2] == "NORMAL"]
    assert len(high) > 40
    assert min(high) > p99(normal), (min(high), p99(normal))


def test_same_application_same_scores_other_pump_name_other_forest() -> None:
    records = heart_rates(1500, seed=2)
    one = run_rows(guide_plan(ANOMALY, HEART), records)[0]["TEMP_STREAM"]
    again = run_rows(guide_plan(ANOMALY, HEART), records, batch_size=7)[0]["TEMP_STREAM"]
    other = run_rows(guide_plan(ANOMALY.replace("STREAM_PUMP", "P2"), HEART), records)[0]
    assert one == again  # seeded: batching does not matter either
    assert one != other["TEMP_STREAM"]


def test_anomaly_explanation_names_the_column_and_direction() -> None:
    records = blood_pressures(12000, seed=3)
    streams, failures = run_rows(guide_plan(EXPLANATION, PRESSURE), records)
    assert failures == []
    rows = streams["TEMP_STREAM"][1000:]
    for row in rows:
        explanation = json.loads(row[5])
        assert list(explanation) == ["Systolic", "Diastolic"]
        assert all(list(v) == ["DIRECTION", "STRENGTH", "ATTRIBUTION_SCORE"]
                   for v in explanation.values())  # fmt: skip
        total = sum(float(v["ATTRIBUTION_SCORE"]) for v in explanation.values())
        assert total == pytest.approx(row[4], abs=1e-3)
    abnormal = [r for r in rows if r[3] != "NORMAL"]
    normal = [r[4] for r in rows if r[3] == "NORMAL"]
    assert len(abnormal) > 60
    assert min(r[4] for r in abnormal) > p99(normal)
    # Directions are relative to the records the forest holds, HIGH ones included: a HIGH
    # record's Systolic of 135 is low among them. The column that explains most of the score
    # points the way the record was made, nearly always.
    right = 0
    for row in abnormal:
        explanation = json.loads(row[5])
        main = max(explanation.values(), key=lambda v: float(v["ATTRIBUTION_SCORE"]))
        right += main["DIRECTION"] == ("HIGH" if row[3] == "HIGH" else "LOW")
    assert right >= 0.95 * len(abnormal), (right, len(abnormal))


def test_explanation_without_directionality() -> None:
    code = EXPLANATION.replace("100, 256, 100000, 1, true", "100, 256, 100000, 1, false")
    rows = run_rows(guide_plan(code, PRESSURE), blood_pressures(300, seed=4))[0]["TEMP_STREAM"]
    assert json.loads(rows[-1][5]).keys() == {"Systolic", "Diastolic"}
    assert all(list(v) == ["ATTRIBUTION_SCORE"] for v in json.loads(rows[-1][5]).values())


# -- the cursor and the outer query -----------------------------------------------------------
def test_cursor_expressions_where_and_outer_where() -> None:
    code = """
    CREATE OR REPLACE STREAM "OUT" (hr DOUBLE, score DOUBLE);
    CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
      SELECT STREAM HR, ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(
        CURSOR(SELECT STREAM CAST("heartRate" AS DOUBLE) / 10 AS hr, "rateType"
               FROM "SOURCE_SQL_STREAM_001"
               WHERE "rateType" = 'NORMAL' OR "heartRate" > 180),
        50, 128, 10000, 2))
      WHERE ANOMALY_SCORE > 0;
    """
    records = heart_rates(3000, seed=6)
    rows = run_rows(guide_plan(code, HEART), records)[0]["OUT"]
    kept = [v for _, v in records if v[1] == "NORMAL" or v[0] > 180]
    assert len(rows) < len(kept)  # the learning phase's zeros filtered out
    assert len(rows) > len(kept) - 100
    assert all(r[2] > 0 for r in rows)
    assert {r[1] for r in rows} <= {v[0] / 10.0 for v in kept}
    plan = guide_plan(code, HEART)
    assert "50 trees of 128 points, time decay 10000, shingle 2, over HR" in plan.explain()


def test_star_over_the_function_and_select_without_stream() -> None:
    code = """
    CREATE OR REPLACE STREAM "OUT" ("heartRate" INTEGER, "rateType" VARCHAR(20), s DOUBLE);
    CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
      SELECT * FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")));
    """
    records = heart_rates(200, seed=7)
    rows = run_rows(guide_plan(code, HEART), records)[0]["OUT"]
    assert [r[1:3] for r in rows] == [v for _, v in records]


def test_null_value_goes_to_the_error_stream() -> None:
    records = heart_rates(300, seed=8)
    records[100] = (records[100][0], (None, "NORMAL"))
    streams, failures = run_rows(guide_plan(ANOMALY, HEART), records)
    assert len(streams["TEMP_STREAM"]) == 299
    assert [(f.pump, f.name) for f in failures] == [("STREAM_PUMP", "Invalid_Argument")]
    assert "heartRate is NULL" in failures[0].message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM S), 100, 5, 100000, 1)", "subSampleSize"),
        ("RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM S), 100, 256)", "all of the parameters"),
        ("RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM S), 1.5, 256, 100000, 1)",
         "numberOfTrees must be an integer"),
        ("RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM S), 100, 256, 100, 1)", "timeDecay"),
        ("RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM S), 100, 256, 100000, 31)",
         "shingleSize"),
        ("RANDOM_CUT_FOREST_WITH_EXPLANATION(CURSOR(SELECT STREAM * FROM S), 100, 256, "
         "100000, 1, 'yes')", "withDirectionality must be TRUE or FALSE"),
        ("RANDOM_CUT_FOREST(CURSOR(SELECT STREAM \"rateType\" FROM S))", "no numeric column"),
        ("RANDOM_CUT_FOREST(CURSOR(SELECT STREAM CAST(\"heartRate\" AS DECIMAL(5, 1)) FROM S))",
         "DECIMAL"),
        ("RANDOM_CUT_FOREST(\"heartRate\")", "CURSOR"),
    ],
)  # fmt: skip
def test_bad_calls_are_refused_at_their_position(call: str, message: str) -> None:
    code = (
        'CREATE OR REPLACE STREAM "OUT" (a INTEGER);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f'SELECT STREAM "heartRate" FROM TABLE({call.replace(" S)", " SOURCE_SQL_STREAM_001)")});'
    )
    with pytest.raises(SqlPlanError, match=message) as caught:
        guide_plan(code, HEART)
    assert caught.value.line == 3


def test_grouping_over_the_function_is_refused() -> None:
    code = """
    CREATE OR REPLACE STREAM "OUT" (n BIGINT);
    CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
      SELECT STREAM COUNT(*) FROM TABLE(RANDOM_CUT_FOREST(
        CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")))
      GROUP BY STEP(ROWTIME BY INTERVAL '1' MINUTE);
    """
    with pytest.raises(SqlUnsupportedError, match="GROUP over RANDOM_CUT_FOREST"):
        guide_plan(code, HEART)


# -- restore ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "columns", "records"),
    [
        (ANOMALY, HEART, heart_rates(2500, seed=9)),
        (EXPLANATION.replace("1, true", "3, true"), PRESSURE, blood_pressures(2500, seed=9)),
    ],
    ids=["rcf", "rcf-explanation-shingled"],
)
def test_restore_anywhere_gives_the_same_rows(code: str, columns, records) -> None:
    plan = guide_plan(code, columns)
    expected = drive_engine(plan, records, batch=61, crashes=set())
    assert len(expected) == len(records)
    rng = random.Random(4)
    for _ in range(2):
        crashes = set(rng.sample(range(len(records) // 61), 5))
        assert drive_engine(plan, records, batch=61, crashes=crashes) == expected


def test_a_cursor_of_stream_columns_reads_them_in_one_call() -> None:
    def cursor_of(select: str, outer: str = '"heartRate", "rateType"') -> Any:
        code = ANOMALY.replace("SELECT STREAM * FROM", f"SELECT STREAM {select} FROM").replace(
            'SELECT STREAM "heartRate", "rateType"', f"SELECT STREAM {outer}"
        )
        return guide_plan(code, HEART).pumps[0].build()._cursor  # type: ignore[attr-defined]

    row = (Timestamp(5), Timestamp(4), 71, "NORMAL")
    star = cursor_of("*")
    assert star.getter is not None
    assert star.values(row) == tuple(f(row) for f in star.columns) == (71, "NORMAL")
    swapped = cursor_of('"rateType", "heartRate"')
    assert swapped.getter is not None and swapped.values(row) == ("NORMAL", 71)
    single = cursor_of('"heartRate"', outer="\"heartRate\", 'X'")
    assert single.getter is not None and single.values(row) == (71,)
    computed = cursor_of('"heartRate" * 2 AS "heartRate", "rateType"')
    assert computed.getter is None and computed.values(row) == (142, "NORMAL")
