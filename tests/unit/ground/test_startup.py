"""Waiting at start-up: a server down or answering 5xx is waited for with capped exponential
backoff and one log line per attempt; anything else fails at once; the wait is a frozen
config whose errors name the field."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from ground.errors import (
    ConfigError,
    CredentialsError,
    DestinationUnavailableError,
    KafkaUnreachableError,
    ServiceUnavailableError,
)
from ground.settings import Settings
from ground.startup import DEFAULT_STARTUP_WAIT_MS, Backoff, StartupWait, wait_until_up
from tests.unit.fakes import SleepingClock


def down(
    times: int, error: Exception, clock: SleepingClock, takes_s: float = 2.0
) -> tuple[Callable[[], str], list[int]]:
    """A check that fails ``times`` times (each taking ``takes_s``), then answers."""
    calls: list[int] = []

    def check() -> str:
        calls.append(1)
        if len(calls) <= times:
            clock.now += takes_s
            raise error
        return "up"

    return check, calls


S3_DOWN = DestinationUnavailableError(
    "s3.bucket 'b': cannot reach http://127.0.0.1:9: HTTP 502 HTTP502", system="S3",
    endpoint="http://127.0.0.1:9", reason="HTTP 502 HTTP502",
)


def test_a_server_that_comes_back_is_waited_for(caplog: pytest.LogCaptureFixture) -> None:
    clock = SleepingClock(100.0)
    check, calls = down(5, S3_DOWN, clock)
    with caplog.at_level(logging.WARNING, logger="ground.startup"):
        assert wait_until_up(check, StartupWait(60_000, 500, 3_000), sleep=clock.sleep,
                             clock=clock) == "up"  # fmt: skip
    assert len(calls) == 6
    assert clock.pauses == [0.5, 1.0, 2.0, 3.0, 3.0]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5
    assert lines[0] == ("waiting for S3 at http://127.0.0.1:9 (attempt 1: HTTP 502 HTTP502); "
                        "next attempt in 0.5s, for up to 58s more")
    assert all(f"(attempt {n}: " in line for n, line in enumerate(lines, start=1))


def test_it_gives_up_after_the_wait_with_the_last_error() -> None:
    clock = SleepingClock(100.0)
    error = KafkaUnreachableError("no Kafka broker answered at b:1 within 10s", endpoint="b:1")
    check, calls = down(10**6, error, clock, takes_s=10.0)
    start = clock.now
    with pytest.raises(KafkaUnreachableError, match="no Kafka broker answered"):
        wait_until_up(check, StartupWait(30_000), sleep=clock.sleep, clock=clock)
    assert 30.0 <= clock.now - start <= 40.0
    assert len(calls) == 3


@pytest.mark.parametrize("error", [
    CredentialsError("S3", "refused the credentials", setting="SHARDLINE_S3_ACCESS_KEY"),
    ConfigError("topic", "topic 't' does not exist"),
    ValueError("a bug"),
])  # fmt: skip
def test_a_permanent_error_fails_at_once(error: Exception) -> None:
    clock = SleepingClock(100.0)
    check, calls = down(1, error, clock)
    with pytest.raises(type(error)):
        wait_until_up(check, StartupWait(), sleep=clock.sleep, clock=clock)
    assert len(calls) == 1 and clock.pauses == []


def test_no_wait_fails_at_the_first_error() -> None:
    clock = SleepingClock(100.0)
    check, calls = down(1, S3_DOWN, clock)
    with pytest.raises(DestinationUnavailableError):
        wait_until_up(check, StartupWait(0), sleep=clock.sleep, clock=clock)
    assert len(calls) == 1


def test_the_errors_are_transient_and_keep_their_kind() -> None:
    assert isinstance(S3_DOWN, ServiceUnavailableError) and str(S3_DOWN).startswith("S3: ")
    kafka = KafkaUnreachableError("no broker", endpoint="b:1", reason="refused")
    assert isinstance(kafka, ServiceUnavailableError) and isinstance(kafka, ConnectionError)
    assert (kafka.system, kafka.endpoint, kafka.reason) == ("Kafka", "b:1", "refused")


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(100, 700)
    assert [backoff.next_ms() for _ in range(6)] == [100, 200, 400, 700, 700, 700]


def test_the_wait_comes_from_the_environment_and_its_errors_name_it() -> None:
    assert Settings.from_env({}).startup_wait.wait_ms == DEFAULT_STARTUP_WAIT_MS == 120_000
    assert Settings.from_env({"SHARDLINE_STARTUP_WAIT_MS": " 5000 "}).startup_wait.wait_ms == 5000
    for bad in ("5s", "-1", "1.5", "86400001"):
        with pytest.raises(ConfigError) as info:
            Settings.from_env({"SHARDLINE_STARTUP_WAIT_MS": bad})
        assert info.value.field == "SHARDLINE_STARTUP_WAIT_MS"
    with pytest.raises(ConfigError) as info:
        StartupWait(1_000, 500, 100)
    assert info.value.field == "max_backoff_ms"
    with pytest.raises(ConfigError) as info:
        StartupWait(True)  # type: ignore[arg-type]
    assert info.value.field == "startup_wait_ms"
    with pytest.raises(AttributeError):
        StartupWait().wait_ms = 1  # type: ignore[misc]
