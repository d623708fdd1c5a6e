"""Reading a partition's state back from its compacted changelog topic.

The changelog partition of a source partition is written only by the worker that owns the
source partition, inside the same transactions as its outputs and input offsets. A new
owner reads it from the beginning with a read_committed consumer up to the *high
watermark* taken when the restore starts — not just to the last stable offset: a previous
owner that died mid-transaction holds the last stable offset back until the broker aborts
its transaction, and committed entries of a later owner may sit behind it. End of
partition events (``enable.partition.eof``) carry the offset the fetcher reached; the read
is complete when that offset is at or past the target.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from ground.errors import RestoreError
from ground.kafka import broker_away
from ground.kafka_config import KafkaConfig
from pipelines.runtime.clients import changelog_configs

__all__ = ["ChangelogReader", "latest_values"]

log = logging.getLogger(__name__)

def latest_values(
    entries: Iterable[tuple[bytes | None, bytes | None]],
    into: dict[bytes, bytes] | None = None,
) -> dict[bytes, bytes]:
    """Fold changelog entries in log order into the latest value per key.

    A ``None`` value (a tombstone) deletes the key; entries without a key are ignored.
    """
    state: dict[bytes, bytes] = {} if into is None else into
    for key, value in entries:
        if key is None:
            continue
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return state


class ChangelogReader:
    """Reads changelog partitions to their end; one per worker, reused for every restore."""

    def __init__(self, kafka: KafkaConfig, application_id: str, timeout_ms: int) -> None:
        reader, probe = changelog_configs(kafka, application_id)
        self._reader = Consumer(reader)
        self._probe = Consumer(probe)
        self.timeout_ms = timeout_ms

    def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        """High watermarks; a retriable error (a leader moving or loading after a broker
        restart: NOT_LEADER_FOR_PARTITION…) is asked again until ``timeout_ms``."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        out: dict[int, int] = {}
        for p in partitions:
            while True:
                try:
                    out[p] = self._probe.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=self.timeout_ms / 1000
                    )[1]
                    break
                except KafkaException as exc:
                    err = exc.args[0] if exc.args else None
                    if not (broker_away(err) and time.monotonic() < deadline):
                        raise
                    log.warning("%s[%d]: end offset: %s; retrying", topic, p, err.str())
                    time.sleep(0.2)
        return out

    def read(self, topic: str, partitions: Iterable[int]) -> dict[int, dict[bytes, bytes]]:
        """``{partition: {key: latest value}}`` for each of ``partitions`` of ``topic``."""
        return self.read_many({topic: partitions})[topic]

    def read_many(
        self, wanted: Mapping[str, Iterable[int]]
    ) -> dict[str, dict[int, dict[bytes, bytes]]]:
        """:meth:`read` for several changelog topics at once (one assignment: an
        application with repartition topics has a changelog per stage)."""
        states: dict[str, dict[int, dict[bytes, bytes]]] = {
            topic: {p: {} for p in sorted(set(parts))} for topic, parts in wanted.items()
        }
        targets: dict[tuple[str, int], int] = {}
        for topic, parts in states.items():
            if not parts:
                continue
            try:
                ends = self.end_offsets(topic, parts)
            except Exception as exc:
                raise RestoreError(f"cannot read end offsets: {exc}", topic=topic) from exc
            targets.update(((topic, p), end) for p, end in ends.items())
        pending = {tp for tp, end in targets.items() if end > 0}
        if not pending:
            return states
        self._reader.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in pending])
        reached: dict[tuple[str, int], int] = dict.fromkeys(pending, -1)
        deadline = time.monotonic() + self.timeout_ms / 1000
        try:
            while pending:
                if time.monotonic() > deadline:
                    t, q = min(pending)
                    raise RestoreError(
                        f"changelog not read to its end offset {targets[(t, q)]} within "
                        f"{self.timeout_ms} ms (reached {reached[(t, q)]}); an open "
                        f"transaction of a dead worker holds it until the broker aborts it",
                        topic=t,
                        partition=q,
                        offset=reached[(t, q)],
                    )
                for m in self._reader.consume(10_000, 0.05):
                    err = m.error()
                    tp = (m.topic() or "", m.partition() or 0)
                    if err is None:
                        if tp in pending:
                            key, value = m.key(), m.value()
                            if key is not None:
                                state = states[tp[0]][tp[1]]
                                if value is None:
                                    state.pop(key, None)
                                else:
                                    state[key] = value
                    elif err.code() == KafkaError._PARTITION_EOF:
                        if tp not in reached:
                            continue
                        reached[tp] = m.offset() or 0
                        if reached[tp] >= targets[tp]:
                            pending.discard(tp)
                    elif err.fatal() or not err.retriable():
                        if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART,):
                            raise RestoreError(
                                f"changelog read failed: {err}", topic=tp[0], partition=tp[1]
                            )
                        log.warning("changelog %s[%s] read: %s", tp[0], tp[1], err)
        finally:
            self._reader.unassign()
        return states

    def close(self) -> None:
        for c in (self._reader, self._probe):
            try:
                c.close()
            except Exception as exc:  # closing is best effort
                log.debug("closing changelog reader: %s", exc)
