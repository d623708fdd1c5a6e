"""No silent differences: each construct here was accepted and computed otherwise than KDA
computes it. Now it computes what KDA computes, or ``sql check`` refuses it at its place.

The KDA SQL Reference is the authority: the JOIN clause (windows, FOLLOWING, the ROWTIME of a
result), "Allowed and Disallowed Window Specifications" (aggregation windows end with the
current row), the HAVING clause (not without GROUP BY in a streaming query), ROWTIME and the
SELECT clause (a ROWTIME item is a value; ``AS ROWTIME`` sets the row's time; ``*`` is every
column of every relation), CREATE OR REPLACE.
"""

from __future__ import annotations

from typing import Any

import pytest

from ground.errors import SqlError, SqlPlanError
from pipelines.sql.catalog import StreamColumn
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.types import Timestamp, parse_type

T0 = 1_780_000_000_000
COLUMNS = [
    StreamColumn("K", parse_type("VARCHAR(4)")),
    StreamColumn("SIDE", parse_type("VARCHAR(4)")),
    StreamColumn("V", parse_type("INTEGER")),
    StreamColumn("EVENT_TIME", parse_type("TIMESTAMP")),
]
INPUTS = {"SOURCE_SQL_STREAM_001": COLUMNS}
SRC = '"SOURCE_SQL_STREAM_001"'


def _records(*rows: tuple[int, str, str, int, int]) -> list[tuple[int, tuple[Any, ...]]]:
    """(seconds after T0, K, SIDE, V, event time in seconds after T0)"""
    return [(T0 + s * 1000, (k, side, v, Timestamp(T0 + e * 1000))) for s, k, side, v, e in rows]


RECORDS = _records(
    (0, "a", "L", 1, 0),
    (1, "a", "R", 10, 1),
    (3, "a", "L", 2, 2),
    (4, "b", "R", 20, 5),
    (6, "a", "R", 30, 4),
    (9, "a", "L", 3, 9),
    (20, "a", "R", 40, 20),
)


def _run(code: str, records: list[tuple[int, tuple[Any, ...]]] = RECORDS) -> dict:
    plan = plan_application(code, application="t", inputs=INPUTS)
    streams, failures = run_rows(plan, records, batch_size=2)
    streams["failures"] = failures
    return streams


def _refused(kind: type[SqlError], code: str, text: str, line: int, column: int) -> None:
    with pytest.raises(kind) as caught:
        plan_application(code, application="t", inputs=INPUTS)
    assert text in str(caught.value)
    assert (caught.value.line, caught.value.column) == (line, column)


def _s(seconds: float) -> int:
    return T0 + int(seconds * 1000)


SIDES = f"""CREATE OR REPLACE STREAM "L" (k VARCHAR(4), v INTEGER);
CREATE OR REPLACE STREAM "R" (k VARCHAR(4), v INTEGER);
CREATE OR REPLACE PUMP "LP" AS INSERT INTO "L" SELECT STREAM k, v FROM {SRC} WHERE side = 'L';
CREATE OR REPLACE PUMP "RP" AS INSERT INTO "R" SELECT STREAM k, v FROM {SRC} WHERE side = 'R';
CREATE OR REPLACE STREAM "OUT" (t TIMESTAMP, l INTEGER, r INTEGER);
"""


def test_a_following_join_window_joins_the_rows_after() -> None:
    """It ran as PRECEDING. KDA: the left row meets the right rows of the 5 s after it; the
    result's ROWTIME is the later row's; LEFT JOIN: an unmatched row at the window's end."""
    streams = _run(
        SIDES.replace("(t TIMESTAMP, l INTEGER, r INTEGER)", "(l INTEGER, r INTEGER)")
        + 'CREATE OR REPLACE PUMP "J" AS INSERT INTO "OUT" SELECT STREAM l.v, r.v '
        "FROM L AS l LEFT JOIN R OVER (RANGE INTERVAL '5' SECOND FOLLOWING) AS r ON l.k = r.k;"
    )
    assert [(int(r[0]), *r[1:]) for r in streams["OUT"]] == [
        (_s(1), 1, 10),  # L@0 meets R@1 …
        (_s(6), 2, 30),  # … L@3 meets R@6 (R@1 is before it)
        (_s(14), 3, None),  # L@9: nothing in 9…14
    ]


def test_a_following_aggregation_window_is_refused() -> None:
    """It ran as PRECEDING. KDA aggregates over windows that end with the current row."""
    code = (
        'CREATE OR REPLACE STREAM "OUT" (k VARCHAR(4), n BIGINT);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f"SELECT STREAM k, COUNT(*) OVER W FROM {SRC}\n"
        "WINDOW W AS (PARTITION BY k RANGE INTERVAL '1' MINUTE FOLLOWING);"
    )
    _refused(SqlPlanError, code, "end with the current row", 4, 35)  # INTERVAL


def test_having_on_a_stagger_window_filters_its_results() -> None:
    """HAVING was accepted and dropped on stagger windows."""
    streams = _run(
        'CREATE OR REPLACE STREAM "OUT" (k VARCHAR(4), n BIGINT);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f"SELECT STREAM k, COUNT(*) FROM {SRC}\n"
        "WINDOWED BY STAGGER (PARTITION BY k RANGE INTERVAL '10' SECOND)\n"
        "HAVING COUNT(*) > 1;"
    )
    # a opens at 0 (rows 0, 1, 3, 6, 9 → 5), b at 4 (one row: dropped), a again at 20 (one)
    assert [tuple(r) for r in streams["OUT"]] == [(_s(10), "a", 5)]


def test_having_without_group_by_is_refused() -> None:
    """HAVING was accepted and dropped on OVER queries (and stateless ones). KDA: "In
    streaming queries, HAVING cannot be used without a GROUP BY clause"."""
    code = (
        'CREATE OR REPLACE STREAM "OUT" (k VARCHAR(4), n BIGINT);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f"SELECT STREAM k, COUNT(*) OVER W FROM {SRC}\n"
        "WINDOW W AS (PARTITION BY k RANGE INTERVAL '1' MINUTE PRECEDING)\n"
        "HAVING COUNT(*) OVER W > 1;"
    )
    _refused(SqlPlanError, code, "HAVING needs a GROUP BY", 5, 1)


def test_rowtime_selected_is_a_value_of_its_column() -> None:
    """A bare ROWTIME item was dropped (KDA's JOIN examples insert it into a column)."""
    streams = _run(
        'CREATE OR REPLACE STREAM "OUT" (k VARCHAR(4), t TIMESTAMP);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f'SELECT STREAM k, "ROWTIME" FROM {SRC};'
    )
    assert [(r[1], r[2]) for r in streams["OUT"]][:2] == [("a", _s(0)), ("a", _s(1))]
    # and a ROWTIME the target has no column for is a column too many, not dropped
    code = (
        'CREATE OR REPLACE STREAM "OUT" (k VARCHAR(4));\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f"SELECT STREAM ROWTIME, k FROM {SRC};"
    )
    _refused(SqlPlanError, code, "selects 2 columns but OUT has 1", 3, 15)


def test_as_rowtime_sets_the_time_of_the_row() -> None:
    """``expr AS ROWTIME`` was not honoured: the row's ROWTIME is the value."""
    streams = _run(
        'CREATE OR REPLACE STREAM "OUT" (k VARCHAR(4), v INTEGER);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f"SELECT STREAM k, v, event_time AS ROWTIME FROM {SRC};"
    )
    # event times 0, 1, 2, 5, 4 (back in time: an error), 9, 20
    assert [(int(r[0]), r[2]) for r in streams["OUT"]] == [
        (_s(0), 1), (_s(1), 10), (_s(2), 2), (_s(5), 20), (_s(9), 3), (_s(20), 40)
    ]
    assert [f.name for f in streams["failures"]] == ["Out_Of_Order_Row"]


def test_star_over_a_join_is_every_column_of_both() -> None:
    """``*`` over a stream join was the left stream's columns only."""
    streams = _run(
        SIDES.replace('"OUT" (t TIMESTAMP, l INTEGER, r INTEGER)',
                      '"OUT" (lk VARCHAR(4), lv INTEGER, rk VARCHAR(4), rv INTEGER)')
        + 'CREATE OR REPLACE PUMP "J" AS INSERT INTO "OUT" SELECT STREAM * '
        "FROM L AS l JOIN R OVER (RANGE INTERVAL '5' SECOND PRECEDING) AS r ON l.k = r.k;"
    )
    assert [tuple(r[1:]) for r in streams["OUT"]] == [("a", 2, "a", 10), ("a", 3, "a", 30)]


def test_a_later_create_or_replace_pump_replaces_the_earlier() -> None:
    """Both pumps ran; CREATE OR REPLACE replaces."""
    streams = _run(
        'CREATE OR REPLACE STREAM "OUT" (v INTEGER);\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM v FROM {SRC};\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM -v FROM {SRC};'
    )
    assert [r[1] for r in streams["OUT"]] == [-1, -10, -2, -20, -30, -3, -40]


def test_a_top_k_cursor_is_read_as_its_select_list_says() -> None:
    """TOP_K read the column from the cursor's FROM, whatever the cursor's SELECT made of it."""
    streams = _run(
        'CREATE OR REPLACE STREAM "OUT" (item VARCHAR(4), n BIGINT);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        "SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(CURSOR(\n"
        f"    SELECT STREAM UPPER(k) || side AS K FROM {SRC}), 'K', 1, 60));"
    )
    # the 60-second windows: rows 0…9 s (a/L three times), then the row at 20 s
    assert [tuple(r[1:]) for r in streams["OUT"]] == [("AL", 3), ("AR", 1)]


@pytest.mark.parametrize(
    ("body", "kind", "text", "line", "column"),
    [
        # a window on a stream without a JOIN was dropped
        (f"SELECT STREAM k FROM {SRC} OVER (RANGE INTERVAL '1' MINUTE PRECEDING);",
         SqlPlanError, "a window on a stream without a JOIN", 3, 46),
        # HAVING on a query without GROUP BY was dropped
        (f"SELECT STREAM k FROM {SRC} WHERE v > 1 HAVING v > 2;",
         SqlPlanError, "HAVING needs a GROUP BY", 3, 58),
        # GROUP BY 1 grouped by the constant 1 (KDA: no positions in GROUP BY)
        (f"SELECT STREAM k FROM {SRC} GROUP BY 1, STEP(ROWTIME BY INTERVAL '1' MINUTE);",
         SqlPlanError, "KDA for SQL does not support GROUP BY a position", 3, 55),
    ],
)
def test_dropped_clauses_are_refused(
    body: str, kind: type[SqlError], text: str, line: int, column: int
) -> None:
    code = (
        'CREATE OR REPLACE STREAM "OUT" (k VARCHAR(4));\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n' + body
    )
    _refused(kind, code, text, line, column)
