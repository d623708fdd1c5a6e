"""``CREATE OR REPLACE STREAM`` of a stream a pump already uses (KDA's *CREATE STREAM*: OR
REPLACE "re-creates the stream if it already exists, enabling a definition change for an
existing object"): the later definition wins, and the pumps written before it that read or
write the stream are bound to it — planned again over it once every statement is read — unless
a later ``CREATE OR REPLACE PUMP`` replaces them. Results against DuckDB."""

from __future__ import annotations

import pytest

from ground.errors import SqlPlanError
from pipelines.sql.plan import plan_application
from tests.unit.pipelines.sql.corpus import INPUTS, input_table, run, ticker_records

RECORDS = ticker_records(800, seed=11)
SRC = '"SOURCE_SQL_STREAM_001"'

#: U is made too narrow for a sector, then re-created wide enough; pump P reads U.
NARROW_THEN_WIDE = f"""
CREATE OR REPLACE STREAM "U" (a VARCHAR(4), b DOUBLE);
CREATE OR REPLACE STREAM "D" (a VARCHAR(16), b DOUBLE);
CREATE OR REPLACE PUMP "UP" AS INSERT INTO "U"
SELECT STREAM sector, price FROM {SRC} WHERE change > 0;
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
SELECT STREAM a, b FROM "U";
CREATE OR REPLACE STREAM "U" (a VARCHAR(16), b DOUBLE);
"""


def _rows(rows) -> list[tuple]:
    return [(a, round(b, 6)) for _, a, b in rows]


@pytest.fixture(scope="module")
def duck():
    return input_table(RECORDS)


def test_the_pumps_before_a_replaced_stream_are_bound_to_its_new_definition(duck) -> None:
    """UP writes and P reads the re-created U: sectors come through whole, as with U defined
    once as the later definition — not cut to the first definition's four characters."""
    plan = plan_application(NARROW_THEN_WIDE, application="t", inputs=INPUTS)
    assert [str(c.sql_type) for c in plan.streams["U"].columns] == ["VARCHAR(16)", "DOUBLE"]
    out, failures = run(NARROW_THEN_WIDE, RECORDS, batch_size=50)
    expected = duck.execute(
        "SELECT sector, round(price, 6) FROM s WHERE change > 0 ORDER BY seq"
    ).fetchall()
    assert failures == []
    assert _rows(out["D"]) == expected
    assert any(len(sector) > 4 for sector, _ in expected)
    once = NARROW_THEN_WIDE.replace("a VARCHAR(4)", "a VARCHAR(16)")
    assert _rows(run(once, RECORDS, batch_size=50)[0]["D"]) == expected
    narrow_only = NARROW_THEN_WIDE.rsplit('CREATE OR REPLACE STREAM "U"', 1)[0]
    assert _rows(run(narrow_only, RECORDS, batch_size=50)[0]["D"]) != expected


def test_a_pump_created_again_after_the_replacement_replaces_the_bound_one(duck) -> None:
    """The usual edit: a stream gets a column, and its pump is created again to fill it. The
    first UP (two items, a subquery) is not planned over the new U; P, written before the
    replacement and not created again, is bound to the new U."""
    code = f"""
CREATE OR REPLACE STREAM "U" (a VARCHAR(16), b DOUBLE);
CREATE OR REPLACE STREAM "D" (a VARCHAR(16), b DOUBLE, c REAL);
CREATE OR REPLACE PUMP "UP" AS INSERT INTO "U"
SELECT STREAM x, y FROM (SELECT STREAM sector AS x, price AS y FROM {SRC}) AS t;
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" (a, b)
SELECT STREAM a, b FROM "U" WHERE b > 60;
CREATE OR REPLACE STREAM "U" (a VARCHAR(16), b DOUBLE, c REAL);
CREATE OR REPLACE PUMP "UP" AS INSERT INTO "U"
SELECT STREAM ticker_symbol, price, change FROM {SRC} WHERE change < 0;
"""
    plan = plan_application(code, application="t", inputs=INPUTS)
    assert "UP$1" not in plan.streams  # the first UP's subquery went with it
    out, failures = run(code, RECORDS, batch_size=50)
    expected = duck.execute(
        "SELECT ticker, round(price, 6) FROM s WHERE change < 0 AND price > 60 ORDER BY seq"
    ).fetchall()
    assert failures == []
    assert [(a, round(b, 6), c) for _, a, b, c in out["D"]] == [(*r, None) for r in expected]
    assert len(expected) > 100


def test_a_pump_that_does_not_plan_over_the_new_definition_is_an_error_at_its_place() -> None:
    code = f"""CREATE OR REPLACE STREAM "U" (a VARCHAR(16), b DOUBLE);
CREATE OR REPLACE PUMP "UP" AS INSERT INTO "U"
SELECT STREAM sector, price FROM {SRC};
CREATE OR REPLACE STREAM "U" (a VARCHAR(16));
"""
    with pytest.raises(SqlPlanError) as caught:
        plan_application(code, application="t", inputs=INPUTS)
    assert caught.value.message == (
        "pump UP, bound to stream U as line 4 re-creates it: pump UP selects 2 columns but U "
        "has 1"
    )
    assert (caught.value.line, caught.value.column) == (3, 15)
