"""Record timestamps for tests: near the start of the test session, never a fixed date.

A Kafka broker deletes the records whose timestamp is older than their topic's
``retention.ms`` (7 days by default) at its next retention check, so a record produced
with a date of years ago can vanish in the middle of a test; and Kafka 4 refuses a
timestamp more than an hour ahead of its clock (``message.timestamp.after.max.ms``).
Every record a test produces (and every value a test derives its expectations from) is
therefore anchored on :data:`SESSION_MS`, the wall clock when this module is first
imported: one instant per test session, so that a test and its oracle agree on it.
"""

from __future__ import annotations

import time

__all__ = ["HOUR_MS", "MINUTE_MS", "SECOND_MS", "SESSION_MS", "recent_ms"]

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS

#: Epoch milliseconds at the start of the session (this module's first import).
SESSION_MS = time.time_ns() // 1_000_000


def recent_ms(align_ms: int = 1, *, ago_ms: int = 0) -> int:
    """``ago_ms`` before the session's start, rounded down to a multiple of ``align_ms``
    (e.g. :data:`MINUTE_MS` for tests that rely on window alignment, :data:`HOUR_MS` for
    an hour boundary). Never after the session's start."""
    if align_ms < 1:
        raise ValueError(f"align_ms must be >= 1, got {align_ms}")
    if ago_ms < 0:
        raise ValueError(f"ago_ms must be >= 0, got {ago_ms}")
    return (SESSION_MS - ago_ms) // align_ms * align_ms
