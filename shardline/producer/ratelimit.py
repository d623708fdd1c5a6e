"""A token bucket: at most ``rate_per_s`` records per second on average, ``burst`` at once."""

from __future__ import annotations

import time
from collections.abc import Callable

from ground.errors import ConfigError

__all__ = ["TokenBucket"]

_EPSILON = 1e-9


class TokenBucket:
    """Tokens refill continuously at ``rate_per_s`` up to ``burst``; each record takes one.

    ``clock`` (seconds, monotonic) and ``sleep`` are injectable, so tests run without
    waiting. The bucket starts full.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ConfigError("rate", f"must be positive, got {rate_per_s}")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate_per_s / 10)
        if self.burst < 1:
            raise ConfigError("burst", f"must be at least 1, got {burst}")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        self._last = now

    def try_acquire(self, n: float = 1.0) -> float:
        """Take ``n`` tokens if there are enough and return 0, else return seconds to wait."""
        self._refill()
        if self._tokens + _EPSILON >= n:  # clock arithmetic in floats loses a few ulps
            self._tokens = max(0.0, self._tokens - n)
            return 0.0
        return (n - self._tokens) / self.rate_per_s

    def acquire(self, n: float = 1.0) -> float:
        """Block (via ``sleep``) until ``n`` tokens are available, take them; seconds waited."""
        if n > self.burst:
            raise ConfigError("burst", f"cannot take {n} tokens from a bucket of {self.burst}")
        waited = 0.0
        while (wait := self.try_acquire(n)) > 0:
            self._sleep(wait)
            waited += wait
        return waited
