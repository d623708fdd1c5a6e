"""Year-month intervals (SQL Reference, *Date, Timestamp, and Interval Operators*:
``INTERVAL '1' YEAR + INTERVAL '3-4' YEAR TO MONTH`` is ``INTERVAL '+4-04' YEAR TO MONTH``)
and ``ROWTIME`` in an INSERT column list, through the whole front end and engine.

Calendar arithmetic is checked against DuckDB, an independent implementation that moves a
TIMESTAMP by months with the same end-of-month rule (the day is kept, or becomes the new
month's last day).
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from typing import Any

import duckdb
import pytest

from ground.errors import SqlPlanError
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import StreamColumn, plan_application
from pipelines.sql.types import MonthInterval, Timestamp, parse_timestamp, parse_type

RECORD_MS = 1_700_000_000_000
INPUTS = {
    "IN": [
        StreamColumn("S", parse_type("VARCHAR(40)")),
        StreamColumn("T", parse_type("TIMESTAMP")),
        StreamColumn("N", parse_type("INTEGER")),
    ]
}


def _plan(select: str, out: str = "v VARCHAR(40)", insert: str = "") -> Any:
    code = (
        f'CREATE OR REPLACE STREAM "OUT" ({out});\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" {insert}\n'
        f'SELECT STREAM {select} FROM "IN";\n'
    )
    return plan_application(code, application="ym", inputs=INPUTS)


def _values(select: str, rows: list[tuple[Any, ...]], out: str = "v VARCHAR(40)") -> list[Any]:
    plan = _plan(select, out)
    streams, failures = run_rows(
        plan, [(RECORD_MS + i, row) for i, row in enumerate(rows)], source="IN"
    )
    assert not failures, failures
    return [row[1] for row in streams["OUT"]]


def _one(expression: str) -> Any:
    return _values(expression, [("x", parse_timestamp("2024-01-31 10:00:00"), 1)])[0]


# ----------------------------------------------------------------------- calendar arithmetic


def _duckdb_shift(moments: list[dt.datetime], months: list[int]) -> list[str]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, ts TIMESTAMP, n INTEGER)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?)",
        [(i, m, n) for i, (m, n) in enumerate(zip(moments, months, strict=True))],
    )
    got = con.execute(
        "SELECT strftime(ts + to_months(n), '%Y-%m-%d %H:%M:%S.%g') FROM t ORDER BY i"
    ).fetchall()
    return [text for (text,) in got]


def test_timestamp_plus_months_agrees_with_duckdb_at_month_ends() -> None:
    rng = random.Random(17)
    starts = [dt.datetime(2023, 1, 31, 23, 59, 59, 999_000), dt.datetime(2024, 2, 29, 12)]
    starts += [
        dt.datetime(
            rng.randint(1971, 2060), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
            rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999) * 1000,
        )
        for _ in range(150)
    ]  # fmt: skip
    # every month's last day, where the rule matters
    starts += [
        dt.datetime(year, month, calendar.monthrange(year, month)[1], 8)
        for year in (2023, 2024)
        for month in range(1, 13)
    ]
    months = [rng.randint(-30, 30) for _ in starts]
    rows = [
        ("x", parse_timestamp(s.isoformat(sep=" ", timespec="milliseconds")), n)
        for s, n in zip(starts, months, strict=True)
    ]
    got = _values("CAST(T + N * INTERVAL '1' MONTH AS VARCHAR(30))", rows)
    assert got == _duckdb_shift(starts, months)
    back = _values("CAST(T - N * INTERVAL '1' MONTH AS VARCHAR(30))", rows)
    assert back == _duckdb_shift(starts, [-n for n in months])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # the page's example 4, as text in its qualifier's form
        ("CAST(INTERVAL '1' YEAR + INTERVAL '3-4' YEAR TO MONTH AS VARCHAR(10))", "+4-04"),
        ("CAST(INTERVAL '3-4' YEAR TO MONTH AS VARCHAR(10))", "+3-04"),
        ("CAST(INTERVAL '-3-4' YEAR TO MONTH AS VARCHAR(10))", "-3-04"),
        ("CAST(INTERVAL '40' MONTH AS VARCHAR(10))", "+40"),
        ("CAST(INTERVAL '2' YEAR - INTERVAL '3' MONTH AS VARCHAR(10))", "+1-09"),
        ("CAST(2 * INTERVAL '1-7' YEAR TO MONTH AS VARCHAR(10))", "+3-02"),
        ("CAST(INTERVAL '1-7' YEAR TO MONTH / 2 AS VARCHAR(10))", "+0-09"),
        ("CAST(-INTERVAL '5' MONTH AS VARCHAR(10))", "-5"),
        ("CAST(ABS(INTERVAL '-5' MONTH) AS VARCHAR(10))", "+5"),
        ("CAST(EXTRACT(YEAR FROM INTERVAL '-3-4' YEAR TO MONTH) AS VARCHAR(10))", "-3"),
        ("CAST(EXTRACT(MONTH FROM INTERVAL '-3-4' YEAR TO MONTH) AS VARCHAR(10))", "-4"),
        ("CAST(INTERVAL '13' MONTH > INTERVAL '1' YEAR AS VARCHAR(10))", "TRUE"),
        ("CAST(INTERVAL '12' MONTH = INTERVAL '1' YEAR AS VARCHAR(10))", "TRUE"),
        ("CAST(CAST('2-03' AS INTERVAL YEAR TO MONTH) AS VARCHAR(10))", "+2-03"),
        # 2024-01-31 10:00 moved by months: the day is kept or becomes the month's last
        ("CAST(T + INTERVAL '1' MONTH AS VARCHAR(30))", "2024-02-29 10:00:00.000"),
        ("CAST(INTERVAL '1' MONTH + T AS VARCHAR(30))", "2024-02-29 10:00:00.000"),
        ("CAST(T - INTERVAL '1-1' YEAR TO MONTH AS VARCHAR(30))", "2022-12-31 10:00:00.000"),
        ("CAST(T + INTERVAL '2' MONTH AS VARCHAR(30))", "2024-03-31 10:00:00.000"),
        ("CAST(CAST(T AS DATE) + INTERVAL '1' YEAR AS VARCHAR(30))", "2025-01-31"),
        # STEP page: (t - epoch) / interval * interval + epoch, in whole months
        ("CAST(STEP(T BY INTERVAL '1' MONTH) AS VARCHAR(30))", "2024-01-01 00:00:00.000"),
        ("CAST(STEP(T BY INTERVAL '5' MONTH) AS VARCHAR(30))", "2023-10-01 00:00:00.000"),
        ("CAST(STEP(T BY INTERVAL '1' YEAR) AS VARCHAR(30))", "2024-01-01 00:00:00.000"),
        ("CAST(STEP(T BY INTERVAL '7' YEAR) AS VARCHAR(30))", "2019-01-01 00:00:00.000"),
    ],
)
def test_year_month_values(expression: str, expected: str) -> None:
    assert _one(expression) == expected


def test_a_literal_is_months() -> None:
    got = _values("INTERVAL '1-2' YEAR TO MONTH", [("x", Timestamp(0), 1)], "v VARCHAR(9)")
    assert got == ["+1-02"]
    assert MonthInterval(14).text() == "1-02"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("INTERVAL '1' MONTH + INTERVAL '1' DAY", "cannot apply ADD"),
        ("CAST(INTERVAL '1' MONTH > INTERVAL '30' DAY AS VARCHAR(5))", "cannot apply GT"),
        ("CAST(INTERVAL '1' MONTH > 1 AS VARCHAR(5))", "cannot apply GT"),
        ("INTERVAL '1' MONTH - T", "cannot apply SUB"),
        ("INTERVAL '1-12' YEAR TO MONTH", "the months of YEAR TO MONTH run from 0 to 11"),
        ("INTERVAL '1-2' MONTH", "bad interval literal"),
    ],
)
def test_what_does_not_fit_is_a_plan_error(expression: str, message: str) -> None:
    with pytest.raises(SqlPlanError, match=message):
        _plan(expression)


def test_a_year_month_value_into_another_type_is_an_error_row() -> None:
    plan = _plan("INTERVAL '1' MONTH", out="v INTERVAL DAY TO SECOND")
    streams, failures = run_rows(plan, [(RECORD_MS, ("x", Timestamp(0), 1))], source="IN")
    assert "OUT" not in streams and [f.name for f in failures] == ["Type_Coercion_Error"]


def test_a_year_month_column_is_refused_with_kdas_reason() -> None:
    with pytest.raises(SqlPlanError, match="year-month intervals not supported"):
        _plan("INTERVAL '1' MONTH", out="v INTERVAL YEAR TO MONTH")


@pytest.mark.parametrize(
    ("select", "construct"),
    [
        (
            "SUM(price) OVER (RANGE INTERVAL '1' MONTH PRECEDING) FROM \"IN\"",
            "does not support a year-month interval (INTERVAL '1' MONTH) as a window's",
        ),
        (
            "SUM(INTERVAL '1' MONTH) FROM \"IN\" GROUP BY FLOOR(ROWTIME TO MINUTE)",
            "does not support SUM of a year-month interval",
        ),
    ],
)
def test_year_month_window_lengths_and_sums_are_not_kdas(select: str, construct: str) -> None:
    # WINDOW Clause: RANGE INTERVAL 'interval' {SECOND | MINUTE | HOUR} PRECEDING; SUM:
    # SUM(number-expression); Data Types: "year-month intervals not supported"
    inputs = {"IN": [StreamColumn("PRICE", parse_type("DOUBLE"))]}
    code = (
        'CREATE OR REPLACE STREAM "OUT" (v DOUBLE);\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM {select};\n'
    )
    with pytest.raises(SqlPlanError) as caught:
        plan_application(code, application="ym", inputs=inputs)
    assert construct in caught.value.message


# ------------------------------------------------------------ ROWTIME in an INSERT column list


def _rowtimes(insert: str, select: str) -> tuple[list[tuple[Any, ...]], list[str]]:
    plan = _plan(select, insert=insert)
    times = ["2024-01-01 00:00:00", "2024-01-01 00:00:05", "2024-01-01 00:00:03",
             "2024-01-01 00:00:09"]  # fmt: skip
    rows = [(RECORD_MS + i, (f"r{i}", parse_timestamp(t), i)) for i, t in enumerate(times)]
    streams, failures = run_rows(plan, rows, source="IN")
    return streams["OUT"], [f.name for f in failures]


@pytest.mark.parametrize(
    ("insert", "select"),
    [("(ROWTIME, v)", "T, S"), ("(v, ROWTIME)", "S, T"), ("(v, ROWTIME)", "S, T AS ts")],
)
def test_rowtime_in_an_insert_column_list_is_the_rows_time(insert: str, select: str) -> None:
    got = _rowtimes(insert, select)
    assert got == _rowtimes("", "T AS ROWTIME, S")
    out, failures = got
    assert [int(r[0]) for r in out] == [
        int(parse_timestamp(t)) for t in ("2024-01-01 00:00:00", "2024-01-01 00:00:05",
                                          "2024-01-01 00:00:09")
    ]
    assert [r[1] for r in out] == ["r0", "r1", "r3"]
    assert failures == ["Out_Of_Order_Row"]  # r2 would go back in time


def test_rowtime_in_an_insert_column_list_needs_matching_items() -> None:
    with pytest.raises(SqlPlanError, match="ROWTIME in an INSERT column list"):
        _plan("*", insert="(ROWTIME, v)")


def test_a_year_month_value_in_window_state_keeps_its_class() -> None:
    """MAX of a year-month interval in a tumbling window, and the state codec's form of one
    (what the changelog and a repartition carry): a month count, never milliseconds."""
    from pipelines.sql import state_codec as codec

    plan = _plan(
        "CAST(MAX(N * INTERVAL '1' MONTH) AS VARCHAR(9)) FROM \"IN\" "
        "GROUP BY FLOOR(ROWTIME TO MINUTE) --",
    )
    rows = [(RECORD_MS + i * 1000, ("x", Timestamp(0), n)) for i, n in enumerate([3, 14, 5])]
    rows.append((RECORD_MS + 120_000, ("x", Timestamp(0), 1)))
    streams, failures = run_rows(plan, rows, source="IN")
    assert not failures and [r[1] for r in streams["OUT"]] == ["+14", "+1"]
    assert codec.loads(codec.dumps((MonthInterval(14),))) == (MonthInterval(14),)


def test_comparisons_never_mix_months_with_other_numbers() -> None:
    from ground.errors import RowError
    from pipelines.sql import functions as fn
    from pipelines.sql.types import Interval

    month, ms = MonthInterval(1), Interval(1)
    assert fn.lt(month, MonthInterval(2)) is True
    assert fn.eq(MonthInterval(12), MonthInterval(12)) is True
    for op in (fn.eq, fn.ne, fn.lt, fn.le, fn.gt, fn.ge):
        for a, b in ((month, ms), (ms, month), (month, 1)):
            with pytest.raises(RowError):
                op(a, b)


# ------------------------------------------------------------------------ calendar windows

CALENDAR_INPUTS = {
    "IN": [StreamColumn("SYM", parse_type("VARCHAR(4)")), StreamColumn("X", parse_type("INTEGER"))]
}


def _calendar_records(seed: int) -> list[tuple[int, tuple[Any, ...]]]:
    """Rows over about three years, a few a day, with month and year ends in between."""
    rng = random.Random(seed)
    start = int(parse_timestamp("2023-11-28 00:00:00"))
    t, records = start, []
    while t < start + 3 * 366 * 86_400_000:
        t += rng.randint(1, 40) * 3_600_000 + rng.randint(0, 3_599_999)
        records.append((t, (rng.choice(["A", "B", "C"]), rng.randint(-50, 100))))
    return records


def _calendar_windows(window: str, records: list[tuple[int, tuple[Any, ...]]]) -> list[Any]:
    code = (
        'CREATE OR REPLACE STREAM "OUT" (sym VARCHAR(4), w TIMESTAMP, n BIGINT, s BIGINT, '
        "lo INTEGER);\n"
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f"SELECT STREAM sym, {window}, COUNT(*), SUM(x), MIN(x) FROM \"IN\"\n"
        f"GROUP BY sym, {window};\n"
    )
    plan = plan_application(code, application="cal", inputs=CALENDAR_INPUTS)
    streams, failures = run_rows(plan, records, source="IN", batch_size=37)
    assert not failures
    return [(int(r[0]), r[1], int(r[2]), r[3], r[4], r[5]) for r in streams["OUT"]]


def _duckdb_windows(bucket: str, months: int, records: list[tuple[int, Any]]) -> list[Any]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (ts TIMESTAMP, sym VARCHAR, x INTEGER)")
    con.executemany(
        "INSERT INTO t VALUES (make_timestamp(? * 1000), ?, ?)",
        [(ms, sym, x) for ms, (sym, x) in records],
    )
    rows = con.execute(
        f"SELECT epoch_ms({bucket} + to_months({months})), sym, epoch_ms({bucket}), count(*), "
        f"sum(x), min(x) FROM t GROUP BY sym, {bucket} ORDER BY 1, 2"
    ).fetchall()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("window", "bucket", "months"),
    [
        ("FLOOR(ROWTIME TO MONTH)", "date_trunc('month', ts)", 1),
        ("FLOOR(ROWTIME TO YEAR)", "date_trunc('year', ts)", 12),
        (
            "STEP(ROWTIME BY INTERVAL '5' MONTH)",
            "time_bucket(INTERVAL 5 MONTH, ts, TIMESTAMP '1970-01-01')",
            5,
        ),
        (
            "STEP(ROWTIME BY INTERVAL '1-1' YEAR TO MONTH)",
            "time_bucket(INTERVAL 13 MONTH, ts, TIMESTAMP '1970-01-01')",
            13,
        ),
    ],
)
def test_calendar_windows_agree_with_duckdb(window: str, bucket: str, months: int) -> None:
    """Each window closes when ROWTIME reaches the next boundary and its result's ROWTIME is
    that boundary; the windows at the end of the input close as a worker's do when the input
    goes quiet."""
    records = _calendar_records(seed=months)
    got = sorted(_calendar_windows(window, records))
    assert got == _duckdb_windows(bucket, months, records)
    assert len({r[2] for r in got}) > 2  # several windows, of unequal lengths


def test_an_event_time_calendar_window_closes_at_the_month_end_and_refuses_late_rows() -> None:
    inputs = {
        "IN": [StreamColumn("T", parse_type("TIMESTAMP")), StreamColumn("X", parse_type("INTEGER"))]
    }
    code = (
        'CREATE OR REPLACE STREAM "OUT" (w TIMESTAMP, n BIGINT);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        'SELECT STREAM FLOOR(t TO MONTH), COUNT(*) FROM "IN" GROUP BY FLOOR(t TO MONTH);\n'
    )
    plan = plan_application(code, application="cal", inputs=inputs)
    times = ["2024-01-30 00:00:00", "2024-01-31 23:59:59", "2024-02-29 23:00:00",
             "2024-01-15 00:00:00", "2024-03-01 00:00:00"]  # fmt: skip
    records = [(RECORD_MS + i, (parse_timestamp(t), i)) for i, t in enumerate(times)]
    streams, failures = run_rows(plan, records, source="IN", idle_at_end=False)
    assert [(r[1].text(), r[2]) for r in streams["OUT"]] == [
        ("2024-01-01 00:00:00.000", 2),
        ("2024-02-01 00:00:00.000", 1),
    ]
    assert [f.name for f in failures] == ["Late_Row"]  # January closed when February began
