"""What flows through the runtime: source records in, output records out, and the
processor protocol that turns one into the other for one source partition."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol

__all__ = [
    "ROWTIME_HEADER",
    "OutRecord",
    "PartitionProcessor",
    "ProcessorFactory",
    "SourceRecord",
    "rowtime_from_headers",
    "rowtime_headers",
]

#: The header that carries an output record's own time (a SQL result's ROWTIME), in decimal
#: epoch milliseconds: the topics the runtime creates are ``LogAppendTime``, so the Kafka
#: timestamp of what it writes there is the time the broker appended it (see ``topics``).
ROWTIME_HEADER = "shardline.rowtime"


def rowtime_headers(timestamp_ms: int | None) -> list[tuple[str, bytes]] | None:
    """The headers of an output record stamped ``timestamp_ms`` (none without a time)."""
    return [(ROWTIME_HEADER, b"%d" % timestamp_ms)] if timestamp_ms else None


def rowtime_from_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> int | None:
    """The ROWTIME a record's headers carry (``Message.headers()``), or None."""
    for name, value in headers or ():
        if name == ROWTIME_HEADER and value is not None:
            return int(value)
    return None


class SourceRecord(NamedTuple):
    """One consumed record. ``timestamp_ms`` is the Kafka record timestamp."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


class OutRecord(NamedTuple):
    """One record to write in the current transaction. ``partition=None`` lets the producer's
    partitioner (murmur2 on the key, as the Java clients do) choose. ``timestamp_ms`` (a SQL
    result's ROWTIME) goes in the :data:`ROWTIME_HEADER` header and is the record's Kafka
    timestamp on a ``CreateTime`` topic; ``None`` stamps the produce time. The topics the
    runtime creates are ``LogAppendTime``: there the broker stamps the append time."""

    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int | None = None
    partition: int | None = None


class PartitionProcessor(Protocol):
    """The stateful logic of one source partition. The runtime calls it from one thread.

    Its state must be a function of the records it processed and of what it restored: the
    runtime rebuilds it (a fresh instance, ``restore`` from the changelog, replay from the
    last committed offset) whenever a transaction is aborted or the partition moves.
    """

    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        """Records of this one partition, in offset order; the outputs they cause."""
        ...

    def on_idle(
        self, now_ms: int, idle_ms: int, end_offset: int | None = None
    ) -> list[OutRecord]:
        """The partition is caught up and got no record for ``idle_ms`` (≥ the idle timeout).
        Called at most once per idle check interval while that lasts. ``end_offset`` is
        where the consumer reached the end of the partition (the next offset it would read,
        past transaction markers), when the runtime knows it."""
        ...

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        """State changelog entries since the last call, ``(key, value)``; ``None`` deletes.

        Called before each commit, after ``on_idle`` and every ``batch_max_records``
        records, not after every ``process``: an entry holds the state as it is when taken."""
        ...

    def restore(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        """The latest value of every live key; called once, before any ``process``."""
        ...


#: ``(source topic, partition) -> a fresh processor``
ProcessorFactory = Callable[[str, int], PartitionProcessor]
