"""Waiting at start-up for a server that is down for a while, and for no longer.

A worker started while Kafka, S3/MinIO or Elasticsearch is restarting (a broker outage, a
supervisor starting everything at once) should wait for it instead of exiting, or its
supervisor restarts it in a loop. A server that cannot be reached, or that answers 5xx, is
*transient*: :func:`wait_until_up` runs the start-up check again with capped exponential
backoff, logging one line per attempt that names the system and its endpoint (never a
secret), for up to :attr:`StartupWait.wait_ms`. Anything else — credentials refused, a
missing bucket or topic, a bad config — is *permanent* and fails at once with its own
message, as before.

The wait is :class:`StartupWait`, a frozen config read from ``SHARDLINE_STARTUP_WAIT_MS``
(:meth:`StartupWait.from_env`) whose errors name that variable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ground.errors import ConfigError, ServiceUnavailableError

__all__ = [
    "DEFAULT_STARTUP_WAIT_MS",
    "STARTUP_WAIT_VARIABLE",
    "Backoff",
    "StartupWait",
    "wait_until_up",
]

log = logging.getLogger(__name__)

#: How long a worker waits at start-up for a server that is down (two minutes: a broker or
#: MinIO restart, a rolling restart of a small cluster).
DEFAULT_STARTUP_WAIT_MS = 120_000
#: The first pause between two attempts; it doubles up to ``DEFAULT_MAX_BACKOFF_MS``.
DEFAULT_FIRST_BACKOFF_MS = 500
DEFAULT_MAX_BACKOFF_MS = 10_000
#: The longest start-up wait accepted (a day).
MAX_STARTUP_WAIT_MS = 86_400_000
STARTUP_WAIT_VARIABLE = "SHARDLINE_STARTUP_WAIT_MS"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StartupWait:
    """How long to wait at start-up for a server that is unreachable or answers 5xx
    (``wait_ms``; 0: do not wait), and the pauses between attempts (``first_backoff_ms``,
    doubling up to ``max_backoff_ms``). ``field`` is the name errors give the wait."""

    wait_ms: int = DEFAULT_STARTUP_WAIT_MS
    first_backoff_ms: int = DEFAULT_FIRST_BACKOFF_MS
    max_backoff_ms: int = DEFAULT_MAX_BACKOFF_MS
    field: str = "startup_wait_ms"

    def __post_init__(self) -> None:
        limits = {
            "wait_ms": (self.field, 0, MAX_STARTUP_WAIT_MS),
            "first_backoff_ms": ("first_backoff_ms", 1, MAX_STARTUP_WAIT_MS),
            "max_backoff_ms": ("max_backoff_ms", 1, MAX_STARTUP_WAIT_MS),
        }
        for attribute, (name, low, high) in limits.items():
            value = getattr(self, attribute)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(name, f"integer milliseconds {low}..{high}, got {value!r}")
        if self.max_backoff_ms < self.first_backoff_ms:
            raise ConfigError("max_backoff_ms", f"at least first_backoff_ms "
                              f"({self.first_backoff_ms}), got {self.max_backoff_ms}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StartupWait:
        """``SHARDLINE_STARTUP_WAIT_MS`` (integer milliseconds) or the default."""
        raw = env.get(STARTUP_WAIT_VARIABLE, "").strip()
        if not raw:
            return cls(field=STARTUP_WAIT_VARIABLE)
        try:
            wait_ms = int(raw)
        except ValueError:
            raise ConfigError(STARTUP_WAIT_VARIABLE,
                              f"integer milliseconds, got {raw!r}") from None
        return cls(wait_ms, field=STARTUP_WAIT_VARIABLE)

    def backoff(self) -> Backoff:
        return Backoff(self.first_backoff_ms, self.max_backoff_ms)


class Backoff:
    """Capped exponential pauses: ``first_ms``, twice that, … up to ``max_ms``."""

    __slots__ = ("_next_ms", "max_ms")

    def __init__(self, first_ms: int, max_ms: int) -> None:
        self._next_ms = first_ms
        self.max_ms = max_ms

    def next_ms(self) -> int:
        pause = self._next_ms
        self._next_ms = min(self.max_ms, pause * 2)
        return pause


def wait_until_up(
    check: Callable[[], T],
    wait: StartupWait,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``check()``'s result, calling it again while it raises
    :class:`~ground.errors.ServiceUnavailableError` (a server down or answering 5xx), for
    up to ``wait.wait_ms``; then that error is raised. Other errors are raised at once."""
    deadline = clock() + wait.wait_ms / 1000
    backoff = wait.backoff()
    attempt = 0
    while True:
        attempt += 1
        try:
            return check()
        except ServiceUnavailableError as exc:
            left_s = deadline - clock()
            if left_s <= 0:
                raise
            pause_s = min(backoff.next_ms() / 1000, left_s)
            log.warning("waiting for %s at %s (attempt %d: %s); next attempt in %.1fs, "
                        "for up to %.0fs more", exc.system, exc.endpoint, attempt, exc.reason,
                        pause_s, left_s)  # fmt: skip
            sleep(pause_s)
