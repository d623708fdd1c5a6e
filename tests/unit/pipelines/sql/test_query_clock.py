"""pipelines/sql/query_clock.py: the clock of the current-time functions is injectable and
installed only while an application is planned."""

from __future__ import annotations

from pipelines.sql.query_clock import current_query_clock, use_query_clock


def test_the_installed_clock_and_its_start() -> None:
    ticks = iter(range(100, 200))
    with use_query_clock(lambda: next(ticks)) as clock:
        assert current_query_clock() is clock
        assert clock.start_ms == 100  # read once when the query starts
        assert clock.now_ms() == 101 and current_query_clock().now_ms() == 102
        with use_query_clock(lambda: 7):
            assert current_query_clock().start_ms == 7
        assert current_query_clock() is clock
    outside = current_query_clock()
    assert outside is not clock and outside.start_ms > 1_600_000_000_000  # the wall clock
