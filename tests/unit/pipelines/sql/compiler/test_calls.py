"""The current-time functions on an injected clock and the log parsers' ROW results in pumps.
Each test here fails on the code before these functions.
"""

from __future__ import annotations

import pytest

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.types import Date, Time, Timestamp
from tests.unit.fakes import TickingClock
from tests.unit.pipelines.sql.compiler.pumps import CLF, run

# ---------------------------------------------------------------- the clock


def test_current_row_timestamp_is_the_processing_time_not_rowtime() -> None:
    # sql-reference-current-row-timestamp.html: "a new timestamp for each row … when that row
    # was output"; before, Shardline returned the row's ROWTIME.
    clock = TickingClock(2_000_000_000_000)
    out, failures = run(
        "a TIMESTAMP, b TIMESTAMP",
        "CURRENT_ROW_TIMESTAMP, CURRENT_TIMESTAMP",
        [(1_000, ("x", 1)), (2_000, ("y", 2)), (3_000, ("z", 3))],
        clock=clock,
    )
    assert failures == []
    row_times = [r[1] for r in out]
    query_times = {r[2] for r in out}
    assert all(type(t) is Timestamp for t in row_times)
    assert row_times == sorted(row_times) and len(set(row_times)) == 3  # read per row
    assert all(t > 2_000_000_000_000 for t in row_times)  # the clock, not ROWTIME (1-3 s)
    # CURRENT_TIMESTAMP: "set to values at the time the query first executes"
    assert query_times == {Timestamp(2_000_000_000_001)}
    assert min(row_times) > 2_000_000_000_001


def test_query_start_functions() -> None:
    start = 1_219_801_925_206  # 2008-08-27 01:52:05.206
    out, _ = run(
        "d DATE, t TIME, lt TIME, lts TIMESTAMP",
        "CURRENT_DATE, CURRENT_TIME, LOCALTIME, LOCALTIMESTAMP",
        [(1, ("x", 1))],
        clock=lambda: start,
    )
    (row,) = out
    assert row[1:] == (
        Date(start - start % 86_400_000),
        Time(start % 86_400_000),
        Time(start % 86_400_000),
        Timestamp(start),
    )
    assert row[1].text() == "2008-08-27" and row[4].text() == "2008-08-27 01:52:05.206"


def test_log_parser_fields_in_a_pump() -> None:
    out, failures = run(
        "host VARCHAR(16), req VARCHAR(64), bytes BIGINT, tail VARCHAR(64)",
        "W3C_LOG_PARSE(log, 'COMMON').COLUMN1, W3C_LOG_PARSE(log, 'COMMON').COLUMN5, "
        "(W3C_LOG_PARSE(log, 'COMMON')).COLUMN7, REGEX_LOG_PARSE(log, '.*\"(.*)\".*').COLUMN1",
        [(1, (CLF, 1)), (2, ("not a log line", 2))],
    )
    assert failures == []
    assert [r[1:] for r in out] == [
        (
            "192.168.254.30",
            "GET /icons/apache_pb.gif HTTP/1.1",
            0,
            "GET /icons/apache_pb.gif HTTP/1.1",
        ),
        (None, None, None, None),
    ]


def test_a_row_is_not_a_stream_column_and_patterns_are_constants() -> None:
    with pytest.raises(SqlPlanError, match="select its fields"):
        run("v VARCHAR(9)", "SYS_LOG_PARSE(log)", [])
    with pytest.raises(SqlPlanError, match="must be constants"):
        run("v VARCHAR(9)", "REGEX_LOG_PARSE(log, log).COLUMN1", [])
    with pytest.raises(SqlUnsupportedError, match="intersection"):
        run("v VARCHAR(9)", "FAST_REGEX_LOG_PARSER(log, '(a)&(b)').COLUMN1", [])
    with pytest.raises(SqlPlanError, match="bad regular expression") as info:
        run("v VARCHAR(9)", "REGEX_LOG_PARSE(log, '(a').COLUMN1", [])
    assert info.value.line == 2  # the error names the place of the call
