"""When a partition counts as idle: caught up with its log and quiet for a while.

Pure bookkeeping on an injected clock; the runtime feeds it arrivals, end-of-partition
events and rewinds, and asks it which partitions are due for ``on_idle``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IdleTracker"]


@dataclass(slots=True)
class _Partition:
    last_record_ms: int
    caught_up: bool = False
    last_call_ms: int | None = None
    #: the offset the consumer reached at the end of the log (past control records)
    end_offset: int | None = None


class IdleTracker:
    """Per partition: time of the last record (or of assignment) and whether the consumer
    has reached the end of the log (for read_committed, the last stable offset).

    :meth:`due` returns the partitions that are caught up and got nothing for at least
    ``idle_timeout_ms``, each at most once per ``check_interval_ms``; a record resets both.
    """

    __slots__ = ("_parts", "check_interval_ms", "idle_timeout_ms")

    def __init__(self, idle_timeout_ms: int, check_interval_ms: int) -> None:
        self.idle_timeout_ms = idle_timeout_ms
        self.check_interval_ms = check_interval_ms
        self._parts: dict[tuple[str, int], _Partition] = {}

    def add(self, tp: tuple[str, int], now_ms: int) -> None:
        self._parts[tp] = _Partition(now_ms)

    def remove(self, tp: tuple[str, int]) -> None:
        self._parts.pop(tp, None)

    def record(self, tp: tuple[str, int], now_ms: int) -> None:
        """Records arrived: not idle, and not known to be at the end any more."""
        p = self._parts.get(tp)
        if p is not None:
            p.last_record_ms = now_ms
            p.caught_up = False
            p.last_call_ms = None

    def reached_end(self, tp: tuple[str, int], offset: int | None = None) -> None:
        """The consumer reached the end of the log, at ``offset`` (the next offset it will
        read: for read_committed, the last stable offset then)."""
        p = self._parts.get(tp)
        if p is not None:
            p.caught_up = True
            if offset is not None:
                p.end_offset = offset

    def rewound(self, tp: tuple[str, int]) -> None:
        """The partition was sought back: it is behind again until the next end event."""
        p = self._parts.get(tp)
        if p is not None:
            p.caught_up = False

    def stalled(self, now_ms: int) -> None:
        """The loop stopped consuming for a while (a long rebalance callback: a restore, a
        commit): records that arrived meanwhile are not fetched yet, so an end-of-partition
        seen before says nothing now. Quiet time starts again for every partition."""
        for p in self._parts.values():
            p.last_record_ms = max(p.last_record_ms, now_ms)
            p.last_call_ms = None

    def caught_up(self, tp: tuple[str, int]) -> bool:
        p = self._parts.get(tp)
        return p is not None and p.caught_up

    def end_offset(self, tp: tuple[str, int]) -> int | None:
        """Where the consumer last reached the end of ``tp`` (None: not yet)."""
        p = self._parts.get(tp)
        return None if p is None else p.end_offset

    def all_quiet(self, now_ms: int, quiet_ms: int) -> bool:
        """Every partition is caught up, had ``on_idle`` since its last record and got
        nothing for ``quiet_ms``: all open windows have been flushed. False with none."""
        return bool(self._parts) and all(
            p.caught_up and p.last_call_ms is not None and now_ms - p.last_record_ms >= quiet_ms
            for p in self._parts.values()
        )

    def due(self, now_ms: int) -> list[tuple[tuple[str, int], int]]:
        """``[(partition, idle_ms)]`` to call ``on_idle`` for now; marks them as called."""
        out: list[tuple[tuple[str, int], int]] = []
        for tp, p in self._parts.items():
            if not p.caught_up:
                continue
            idle_ms = now_ms - p.last_record_ms
            if idle_ms < self.idle_timeout_ms:
                continue
            if p.last_call_ms is not None and now_ms - p.last_call_ms < self.check_interval_ms:
                continue
            p.last_call_ms = now_ms
            out.append((tp, idle_ms))
        return out
