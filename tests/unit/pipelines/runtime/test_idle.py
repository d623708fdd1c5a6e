"""Idle bookkeeping: caught up and quiet, and what a stalled loop does to it."""

from pipelines.runtime import IdleTracker


def test_caught_up_and_quiet_is_idle_once_per_interval() -> None:
    idle = IdleTracker(idle_timeout_ms=1_000, check_interval_ms=100)
    idle.add(("t", 0), 0)
    assert idle.due(5_000) == []  # not known to be at the end
    idle.reached_end(("t", 0))
    assert idle.due(5_000) == [(("t", 0), 5_000)]
    assert idle.due(5_050) == []
    idle.record(("t", 0), 6_000)
    idle.reached_end(("t", 0))
    assert idle.due(6_500) == []


def test_a_stall_restarts_the_quiet_time() -> None:
    idle = IdleTracker(idle_timeout_ms=1_000, check_interval_ms=100)
    idle.add(("t", 0), 0)
    idle.reached_end(("t", 0))
    # the loop was blocked from 100 to 9_000 (a restore in a rebalance callback): records
    # that arrived meanwhile are not fetched yet, the old end-of-partition proves nothing
    idle.stalled(9_000)
    assert idle.due(9_500) == []
    assert idle.due(10_000) == [(("t", 0), 1_000)]  # still nothing came: idle after all
