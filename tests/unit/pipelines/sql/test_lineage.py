"""Key lineage: which input column each target column of a pump is, as it is."""

from __future__ import annotations

from pipelines.sql.plan import plan_application
from pipelines.sql.stages import plan_stages
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS

INPUTS = {"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}
SRC = '"SOURCE_SQL_STREAM_001"'
OVER = "OVER (RANGE INTERVAL '1' MINUTE PRECEDING)"


def lineage(code: str) -> dict[str, dict[str, dict[str, str]]]:
    plan = plan_application(code, application="app", inputs=INPUTS)
    return {p.name: p.lineage for p in plan.pumps}


def test_plain_columns_are_carried_through_renames_and_insert_order() -> None:
    got = lineage(
        'CREATE OR REPLACE STREAM "S" (a VARCHAR(4), b VARCHAR(16), c VARCHAR(4), d REAL);\n'
        "CREATE OR REPLACE PUMP P AS INSERT INTO S (d, a, b, c)\n"
        f"SELECT STREAM price, s.ticker_symbol AS x, \"SOURCE_SQL_STREAM_001\".sector, "
        f"LOWER(ticker_symbol) FROM {SRC} AS s;"
    )
    assert got["P"] == {
        "SOURCE_SQL_STREAM_001": {"PRICE": "D", "TICKER_SYMBOL": "A", "SECTOR": "B"}
    }


def test_star_carries_every_column_and_windows_carry_their_plain_keys() -> None:
    got = lineage(
        'CREATE OR REPLACE STREAM "S" (t VARCHAR(4), s VARCHAR(16), c REAL, p REAL, e TIMESTAMP);\n'
        f"CREATE OR REPLACE PUMP P1 AS INSERT INTO S SELECT STREAM * FROM {SRC};\n"
        'CREATE OR REPLACE STREAM "W" (t VARCHAR(4), n BIGINT);\n'
        "CREATE OR REPLACE PUMP P2 AS INSERT INTO W SELECT STREAM t, COUNT(*) FROM S\n"
        "GROUP BY t, STEP(S.ROWTIME BY INTERVAL '1' MINUTE);"
    )
    assert got["P1"]["SOURCE_SQL_STREAM_001"] == {
        "TICKER_SYMBOL": "T", "SECTOR": "S", "CHANGE": "C", "PRICE": "P", "EVENT_TIME": "E"
    }  # fmt: skip
    assert got["P2"] == {"S": {"T": "T"}}


def test_a_join_carries_columns_of_both_sides_and_a_table_function_none() -> None:
    got = lineage(
        'CREATE OR REPLACE STREAM "J" (l VARCHAR(4), r VARCHAR(16));\n'
        "CREATE OR REPLACE PUMP PJ AS INSERT INTO J SELECT STREAM a.ticker_symbol, b.sector\n"
        f"FROM {SRC} AS a JOIN {SRC} {OVER} AS b ON a.ticker_symbol = b.ticker_symbol;\n"
        'CREATE OR REPLACE STREAM "K" (item VARCHAR(4), item_count BIGINT);\n'
        "CREATE OR REPLACE PUMP PK AS INSERT INTO K SELECT STREAM * FROM TABLE(\n"
        f"TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM {SRC}), 'TICKER_SYMBOL', 3, 60));"
    )
    # a self-join: both sides are the same stream; the first target column wins
    assert got["PJ"] == {"SOURCE_SQL_STREAM_001": {"TICKER_SYMBOL": "L", "SECTOR": "R"}}
    assert got["PK"] == {}


def test_a_subquery_carries_columns_under_the_names_its_alias_gives() -> None:
    code = (
        'CREATE OR REPLACE STREAM "W" (x VARCHAR(4), n BIGINT);\n'
        "CREATE OR REPLACE PUMP P AS INSERT INTO W SELECT STREAM x, COUNT(*) FROM (\n"
        f"  SELECT STREAM ticker_symbol, price, UPPER(sector) FROM {SRC}) AS t (x, y, z)\n"
        "GROUP BY x, STEP(t.ROWTIME BY INTERVAL '1' MINUTE);"
    )
    got = lineage(code)
    assert got["P$1"] == {"SOURCE_SQL_STREAM_001": {"TICKER_SYMBOL": "X", "PRICE": "Y"}}
    assert got["P"] == {"P$1": {"X": "X"}}
    plan = plan_application(code, application="app", inputs=INPUTS)
    topology = plan_stages(plan, {"SOURCE_SQL_STREAM_001": ("TICKER_SYMBOL",)})
    assert topology.repartitions == []  # the window's key is the input's, renamed


def test_pumps_after_a_query_carry_the_columns_they_pass_on() -> None:
    got = lineage(
        'CREATE OR REPLACE STREAM "S" (t VARCHAR(4), p REAL);\n'
        "CREATE OR REPLACE PUMP P AS INSERT INTO S SELECT STREAM ticker_symbol, price\n"
        f"FROM {SRC} ORDER BY {SRC}.ROWTIME, price;"
    )
    assert got["P$1"] == {"SOURCE_SQL_STREAM_001": {"TICKER_SYMBOL": "T", "PRICE": "P"}}
    assert got["P"] == {"P$1": {"T": "T", "P": "P"}}
