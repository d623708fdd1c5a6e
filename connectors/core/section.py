"""Reading a delivery in Shardline's layout: one :class:`Section` per mapping, and the two
sections every destination has, ``buffering`` and ``retry``.

Each accepts Shardline's names and Firehose's (``size_mb`` or ``SizeInMBs``, ...), never both,
and every error names the exact field, e.g. ``s3.buffering.size_mb: must be between 1 and 128``.
"""

from __future__ import annotations

from connectors.core.buffer import DEFAULT_INTERVAL_MS, MIB, BufferingHints
from connectors.core.retry import (
    DEFAULT_INITIAL_BACKOFF_MS,
    DEFAULT_MAX_BACKOFF_MS,
    DEFAULT_RETRY_DURATION_MS,
    RetryOptions,
)
from ground.config_reader import MappingReader
from ground.errors import ConfigError

__all__ = ["INTERVAL_S", "RETRY_DURATION_S", "Section", "read_buffering", "read_retry"]

INTERVAL_S = (0, 900, DEFAULT_INTERVAL_MS // 1000)  # Firehose IntervalInSeconds: min, max, default
RETRY_DURATION_S = (0, 7200, DEFAULT_RETRY_DURATION_MS // 1000)  # RetryOptions.DurationInSeconds


class Section(MappingReader):
    """Shardline's layout: an absent section reads as empty; ``has`` means the key is there."""

    def __init__(self, data: object, path: str) -> None:
        super().__init__({} if data is None else data, path)

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, default: str | None = None) -> str:
        """The string under ``key``; ``default`` when absent (required when None)."""
        value = self.get(key)
        if value is None:
            if default is None:
                raise ConfigError(self.name(key), "is required")
            return default
        if not isinstance(value, str):
            raise ConfigError(self.name(key), f"expected a string, got {value!r}")
        return value

    def section(self, key: str) -> Section:
        return Section(self.get(key), self.name(key))

    def duration_ms(self, seconds: tuple[str, ...], ms: str, bounds_s: tuple[int, int, int]
                    ) -> int:
        """A duration in seconds (under any of the names ``seconds``) or in milliseconds
        (``ms``), never both; ``bounds_s``: its min, max and default, in seconds."""
        lo, hi, default = bounds_s
        key = self.alias(*seconds, ms)
        if key == ms:
            return self.integer(key, lo * 1000, hi * 1000, default * 1000)
        return self.integer(key or seconds[0], lo, hi, default) * 1000


def read_buffering(s: Section, size_mb: tuple[int, int, int]) -> BufferingHints:
    """``buffering``: size (``size_mb`` within ``size_mb``'s min and max, or ``size_bytes``),
    interval (``interval_seconds`` or ``interval_ms``) and ``max_records``."""
    lo, hi, default = size_mb
    size_key = s.alias("size_mb", "SizeInMBs", "size_bytes")
    if size_key == "size_bytes":
        size_bytes = s.integer(size_key, 1, hi * MIB, default * MIB)
    else:
        size_bytes = s.integer(size_key or "size_mb", lo, hi, default) * MIB
    interval_ms = s.duration_ms(("interval_seconds", "IntervalInSeconds"), "interval_ms",
                                INTERVAL_S)
    max_records = s.integer("max_records", 1, None)
    s.done()
    return BufferingHints(size_bytes=size_bytes, max_records=max_records, interval_ms=interval_ms)


def read_retry(s: Section) -> RetryOptions:
    """``retry``: how long (``duration_seconds`` or ``duration_ms``), how often, how far apart."""
    options = RetryOptions(
        duration_ms=s.duration_ms(("duration_seconds", "DurationInSeconds"), "duration_ms",
                                  RETRY_DURATION_S),
        max_attempts=s.integer("max_attempts", 1, None),
        initial_backoff_ms=s.integer("initial_backoff_ms", 1, 60_000, DEFAULT_INITIAL_BACKOFF_MS),
        max_backoff_ms=s.integer("max_backoff_ms", 1, 600_000, DEFAULT_MAX_BACKOFF_MS),
    )
    s.done()
    return options
