"""The token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from ground.errors import ConfigError
from shardline.producer import TokenBucket
from tests.unit.fakes import SleepingClock


def test_rate_is_respected_after_the_burst():
    clock = SleepingClock()
    bucket = TokenBucket(10, burst=1, clock=clock, sleep=clock.sleep)
    for _ in range(11):
        bucket.acquire()
    assert clock.now - 1000.0 == pytest.approx(1.0)
    assert len(clock.pauses) == 10


def test_burst_is_free_then_waits():
    clock = SleepingClock()
    bucket = TokenBucket(100, burst=5, clock=clock, sleep=clock.sleep)
    assert [bucket.try_acquire() for _ in range(5)] == [0.0] * 5
    assert bucket.try_acquire() == pytest.approx(0.01)
    clock.now += 0.01
    assert bucket.try_acquire() == 0.0


def test_idle_time_refills_only_up_to_burst():
    clock = SleepingClock()
    bucket = TokenBucket(1000, burst=3, clock=clock, sleep=clock.sleep)
    clock.now += 60
    waited = sum(bucket.acquire() for _ in range(6))
    assert waited == pytest.approx(0.003)


def test_long_run_average():
    clock = SleepingClock()
    bucket = TokenBucket(250, clock=clock, sleep=clock.sleep)
    for _ in range(5025):
        bucket.acquire()
    # the first burst (25 tokens) is free; the other 5000 take 20 s
    assert clock.now - 1000.0 == pytest.approx(20.0)


def test_rejects_bad_settings():
    with pytest.raises(ConfigError):
        TokenBucket(0)
    with pytest.raises(ConfigError):
        TokenBucket(10, burst=0.5)
    with pytest.raises(ConfigError):
        TokenBucket(10, burst=2).acquire(3)
