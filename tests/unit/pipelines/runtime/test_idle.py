"""Idle bookkeeping: caught up and quiet, and what a stalled loop does to it."""

from pipelines.runtime import IdleTracker

A, B = ("t", 0), ("t", 1)


def test_idle_needs_caught_up_and_quiet_for_the_timeout() -> None:
    idle = IdleTracker(idle_timeout_ms=1_000, check_interval_ms=300)
    idle.add(A, now_ms=0)
    idle.add(B, now_ms=0)
    assert idle.due(5_000) == []  # quiet, but never reached the end: not idle
    idle.reached_end(A)
    assert idle.due(999) == []
    assert idle.due(1_000) == [(A, 1_000)]
    assert idle.due(1_299) == []  # at most once per check interval
    assert idle.due(1_300) == [(A, 1_300)]


def test_a_record_resets_quiet_time_and_caught_up() -> None:
    idle = IdleTracker(idle_timeout_ms=1_000, check_interval_ms=100)
    idle.add(A, 0)
    idle.reached_end(A)
    idle.record(A, 800)
    assert idle.due(1_900) == []  # behind again until the next end event
    idle.reached_end(A)
    assert idle.due(1_799) == []
    assert idle.due(1_800) == [(A, 1_000)]


def test_rewind_and_remove() -> None:
    idle = IdleTracker(idle_timeout_ms=10, check_interval_ms=10)
    idle.add(A, 0)
    idle.reached_end(A)
    idle.rewound(A)
    assert not idle.caught_up(A)
    assert idle.due(100) == []
    idle.reached_end(A)
    assert idle.caught_up(A)
    idle.remove(A)
    assert idle.due(200) == []
    idle.record(A, 300)  # unknown partitions are ignored
    idle.reached_end(A)
    assert not idle.caught_up(A)


def test_independent_simulation_with_a_fake_clock() -> None:
    """Step a fake clock; every call must satisfy the rule, and the rule must fire."""
    timeout, interval = 700, 250
    idle = IdleTracker(timeout, interval)
    idle.add(A, 0)
    arrivals = {0, 100, 2_000, 2_050}  # then quiet
    last_record, last_call, calls = 0, None, []
    for now in range(0, 5_000, 10):
        if now in arrivals:
            idle.record(A, now)
            last_record, last_call = now, None
            continue
        idle.reached_end(A)
        for tp, idle_ms in idle.due(now):
            assert tp == A and idle_ms == now - last_record >= timeout
            assert last_call is None or now - last_call >= interval
            last_call = now
            calls.append(now)
    assert calls[0] == 800 and 2_050 + 700 in calls
    assert not [c for c in calls if 2_000 <= c < 2_750]


def test_a_stall_restarts_the_quiet_time() -> None:
    idle = IdleTracker(idle_timeout_ms=1_000, check_interval_ms=100)
    idle.add(("t", 0), 0)
    idle.reached_end(("t", 0))
    # the loop was blocked from 100 to 9_000 (a restore in a rebalance callback): records
    # that arrived meanwhile are not fetched yet, the old end-of-partition proves nothing
    idle.stalled(9_000)
    assert idle.due(9_500) == []
    assert idle.due(10_000) == [(("t", 0), 1_000)]  # still nothing came: idle after all


def test_all_quiet_needs_every_partition_flushed_by_on_idle() -> None:
    idle = IdleTracker(idle_timeout_ms=1_000, check_interval_ms=100)
    assert not idle.all_quiet(10_000, 0)  # nothing assigned: not done, just not started
    idle.add(A, 0)
    idle.add(B, 0)
    idle.reached_end(A)
    idle.reached_end(B)
    assert not idle.all_quiet(5_000, 2_000)  # quiet, but on_idle has not run yet
    assert idle.due(1_000) == [(A, 1_000), (B, 1_000)]
    assert not idle.all_quiet(1_999, 2_000)
    assert idle.all_quiet(2_000, 2_000)
    idle.record(B, 2_100)  # a late arrival: B is behind and unflushed again
    assert not idle.all_quiet(9_000, 2_000)
    idle.reached_end(B)
    assert not idle.all_quiet(9_000, 2_000)
    assert idle.due(9_000) == [(A, 9_000), (B, 6_900)]
    assert idle.all_quiet(9_000, 2_000)
    idle.remove(A)
    idle.remove(B)
    assert not idle.all_quiet(9_000, 2_000)
