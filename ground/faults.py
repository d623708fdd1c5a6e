"""Fault injection for the fault tests: delays at the points where a crash matters most.

Off unless ``SHARDLINE_FAULTS`` is set, e.g. ``SHARDLINE_FAULTS=commit_delay_ms=5000`` (a
delivery worker waits that long between a confirmed write and the commit of its offsets, so
a test can kill it there) or ``part_delay_ms=3000`` (an S3 multipart upload waits before each
part, so a test can kill it mid-upload) or ``stuck_offsets_after=3`` (a SQL worker's third
commit calls a ``send_offsets_to_transaction`` that never returns, as librdkafka #5456 makes
it; once: the fault leaves the environment, so a process started again runs clean) or
``lost_commit_reply_after=3`` (a SQL worker's third ``commit_transaction`` commits, then
fails with a retriable timeout, as when its reply is lost to a broker restart: the worker
cannot know the outcome). Read once, at import; unknown names are an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ground.errors import ConfigError

__all__ = ["ENV", "Faults", "faults"]

ENV = "SHARDLINE_FAULTS"
_NAMES = ("commit_delay_ms", "part_delay_ms", "stuck_offsets_after", "lost_commit_reply_after")


class Faults:
    __slots__ = _NAMES

    def __init__(self, values: Mapping[str, int] | None = None) -> None:
        values = values or {}
        self.commit_delay_ms = values.get("commit_delay_ms", 0)
        self.part_delay_ms = values.get("part_delay_ms", 0)
        self.stuck_offsets_after = values.get("stuck_offsets_after", 0)
        self.lost_commit_reply_after = values.get("lost_commit_reply_after", 0)

    @classmethod
    def parse(cls, text: str) -> Faults:
        values: dict[str, int] = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, _, raw = item.partition("=")
            if name not in _NAMES:
                raise ConfigError(ENV, f"unknown fault {name!r} (known: {', '.join(_NAMES)})")
            try:
                values[name] = int(raw)
            except ValueError:
                raise ConfigError(ENV, f"{name}: expected milliseconds, got {raw!r}") from None
        return cls(values)

    def stuck_offsets(self, commit: int) -> bool:
        """Whether commit number ``commit`` (from 1) gets a call that never returns; when it
        does, the fault is spent, here and in the environment a new process inherits."""
        if not self.stuck_offsets_after or commit != self.stuck_offsets_after:
            return False
        self.stuck_offsets_after = 0
        rest = [p for p in os.environ.get(ENV, "").split(",")
                if p.strip() and not p.strip().startswith("stuck_offsets_after=")]  # fmt: skip
        os.environ[ENV] = ",".join(rest)
        return True

    def lost_commit_reply(self, commit: int) -> bool:
        """Whether commit number ``commit`` (from 1) loses its reply; once."""
        if not self.lost_commit_reply_after or commit != self.lost_commit_reply_after:
            return False
        self.lost_commit_reply_after = 0
        return True


faults = Faults.parse(os.environ.get(ENV, ""))
