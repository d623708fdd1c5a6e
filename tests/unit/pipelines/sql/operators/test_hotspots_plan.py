"""Planning HOTSPOTS and running it on the offline engine with the Developer Guide's SQL as
published (a SELECT without STREAM over the function) over the guide's data: the planted
dense square is found, bad calls are refused at their position, and a partition restored
from its changelog at any commit gives the same rows."""

from __future__ import annotations

import json
import random

import pytest

from ground.errors import SqlPlanError
from pipelines.sql.engine import run_rows
from tests.unit.pipelines.sql.operators.ml_cases import (
    HEART,
    HOTSPOTS,
    POINTS,
    drive_engine,
    guide_plan,
    hot_points,
)


def test_hotspots_finds_the_planted_square() -> None:
    records = hot_points(4000, seed=5)
    streams, failures = run_rows(guide_plan(HOTSPOTS, POINTS), records)
    assert failures == []
    rows = streams["DESTINATION_SQL_STREAM"]
    assert len(rows) == len(records)
    for end in (999, 1999, 2999, 3999):  # each window holds one square's thousand points
        hot = [v for _, v in records[end - 999 : end + 1] if v[2] == "Y"]
        result = json.loads(rows[end][4])
        top = max(result["hotspots"], key=lambda h: h["density"])
        assert top["minValues"][0] >= min(v[0] for v in hot) - 0.2
        assert top["maxValues"][0] <= max(v[0] for v in hot) + 0.2
        assert top["minValues"][1] >= min(v[1] for v in hot) - 0.2
        assert top["maxValues"][1] <= max(v[1] for v in hot) + 0.2
        assert top["density"] > 100  # the background has 10 points per unit area


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("HOTSPOTS(CURSOR(SELECT STREAM * FROM S), 1000, 0.2)", "windowSize, scanRadius"),
        ("HOTSPOTS(CURSOR(SELECT STREAM * FROM S), 50, 0.2, 17)", "windowSize must be"),
        ("HOTSPOTS(CURSOR(SELECT STREAM * FROM S), 1000, -1, 17)", "scanRadius"),
        ("HOTSPOTS(CURSOR(SELECT STREAM * FROM S), 1000, 0.2, 1)",
         "minimumNumberOfPointsInAHotspot"),
        ("HOTSPOTS(CURSOR(SELECT STREAM * FROM S), 1000.5, 0.2, 17)",
         "windowSize must be an integer"),
        ("HOTSPOTS(CURSOR(SELECT STREAM \"rateType\" FROM S), 1000, 0.2, 17)",
         "no numeric column"),
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


def test_restore_anywhere_gives_the_same_rows() -> None:
    plan = guide_plan(HOTSPOTS.replace("1000,", "300,"), POINTS)
    records = hot_points(2500, seed=9)
    expected = drive_engine(plan, records, batch=61, crashes=set())
    assert len(expected) == len(records)
    rng = random.Random(4)
    for _ in range(2):
        crashes = set(rng.sample(range(len(records) // 61), 5))
        assert drive_engine(plan, records, batch=61, crashes=crashes) == expected
