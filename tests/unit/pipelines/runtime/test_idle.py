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
