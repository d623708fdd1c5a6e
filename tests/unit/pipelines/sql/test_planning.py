"""What the planners share: the SELECT list as the target's columns (in INSERT order, with
conversions), the keys a pump groups by, and JOIN conditions split into equi-join keys."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamColumn, StreamInfo
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.planning import canonical, key_columns, split_join_condition
from pipelines.sql.types import parse_type
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS

INPUTS = {"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}
SRC = '"SOURCE_SQL_STREAM_001"'


def test_what_each_pump_groups_by() -> None:
    plan = plan_application(
        'CREATE OR REPLACE STREAM "A" (t VARCHAR(4), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "B" (s VARCHAR(16), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "C" (t VARCHAR(4), p REAL);\n'
        "CREATE OR REPLACE PUMP PA AS INSERT INTO A SELECT STREAM ticker_symbol, COUNT(*)\n"
        f"FROM {SRC} GROUP BY ticker_symbol, STEP(ROWTIME BY INTERVAL '1' MINUTE);\n"
        "CREATE OR REPLACE PUMP PB AS INSERT INTO B SELECT STREAM sector, COUNT(*)\n"
        f"FROM {SRC} GROUP BY sector, STEP(ROWTIME BY INTERVAL '1' MINUTE);\n"
        "CREATE OR REPLACE PUMP PC AS INSERT INTO C SELECT STREAM ticker_symbol, price\n"
        f"FROM {SRC} WHERE price > 1;\n",
        application="t",
        inputs=INPUTS,
    )
    by_name = {p.name: p for p in plan.pumps}
    assert by_name["PA"].key_columns == ("TICKER_SYMBOL",)
    assert by_name["PB"].key_columns == ("SECTOR",)
    assert by_name["PC"].key_columns is None and not by_name["PC"].stateful
    grouping = by_name["PB"].grouping
    assert grouping is not None and grouping[0].columns == ("SECTOR", None)
    assert grouping[0].window == 1  # the window key is not repartitioned by
    # whether a pump runs where its input is: tests/unit/pipelines/sql/test_stages.py


def test_insert_lists_columns_in_any_order_and_values_take_the_column_type() -> None:
    plan = plan_application(
        'CREATE OR REPLACE STREAM "D" (t VARCHAR(4), n BIGINT, p DOUBLE);\n'
        "CREATE OR REPLACE PUMP P AS INSERT INTO D (p, t, n)\n"
        f"SELECT STREAM price, ticker_symbol, 7 FROM {SRC};",
        application="t",
        inputs=INPUTS,
    )
    streams, failures = run_rows(plan, [(1000, ("AMZN", "TECH", 0.5, 12.5, 0))])
    assert failures == []
    ((_, t, n, p),) = streams["D"]
    assert (t, n, p) == ("AMZN", 7, 12.5)
    assert type(n) is int and type(p) is float


def test_an_insert_names_every_column_once() -> None:
    with pytest.raises(SqlPlanError, match="D has no column X"):
        plan_application(
            'CREATE OR REPLACE STREAM "D" (t VARCHAR(4));\n'
            "CREATE OR REPLACE PUMP P AS INSERT INTO D (x)\n"
            f"SELECT STREAM ticker_symbol FROM {SRC};",
            application="t",
            inputs=INPUTS,
        )


def _scope(name: str, *columns: str):
    stream = StreamInfo(name, tuple(StreamColumn(c, parse_type("BIGINT")) for c in columns))
    return stream.scope(name)


def test_join_conditions_split_into_keys_and_the_rest() -> None:
    left, right = _scope("L", "A", "B"), _scope("R", "A", "C")
    condition = sqlglot.parse_one("R.a = L.a AND L.b > 1 AND R.c > L.b")
    left_keys, right_keys, rest = split_join_condition(condition, left, right)
    row_left, row_right = (0, 5, 6), (0, 5, 9)
    assert [f(row_left) for f in left_keys] == [5]
    assert [f(row_right) for f in right_keys] == [5]
    assert rest is not None and rest.sql() == "L.b > 1 AND R.c > L.b"
    only_keys = split_join_condition(sqlglot.parse_one("L.a = R.a"), left, right)
    assert only_keys[2] is None


def test_canonical_forms_and_key_columns() -> None:
    a = sqlglot.parse_one('SELECT "S".Ticker + 1').expressions[0]
    b = sqlglot.parse_one("SELECT TICKER + 1").expressions[0]
    assert canonical(a) == canonical(b)
    keys = [exp.column("ticker"), sqlglot.parse_one("FLOOR(x TO MINUTE)")]
    assert key_columns(keys) == ("TICKER",)
