"""Partition ownership: the source partitions a worker owns, their processors and offsets.

:class:`Ownership` holds one :class:`OwnedPartition` per assigned source partition and
everything that changes the set or moves its offsets:

* the rebalance callbacks the consumer calls inside ``consume()`` (assign, revoke, lost);
* the restore of a partition's processor from its changelog partition;
* the commit of the open transaction with every owned partition's changes and position
  (KIP-447: the consumer's group metadata goes with them), and the abort that seeks
  partitions back to their last commit and rebuilds their processors.

A revoke commits the open transaction first; a lost assignment aborts it. An assignment of
new partitions commits it too (their restore may wait for a dead owner's transaction to
time out, longer than ours may stay open), then resolves their start offsets (committed,
else the starting position) and restores each new partition's processor from its
changelog before it is fetched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from ground.errors import ProcessorError, RestoreError, RuntimeFailure
from pipelines.runtime.changelog import ChangelogReader
from pipelines.runtime.config import NOW, RuntimeConfig
from pipelines.runtime.idle import IdleTracker
from pipelines.runtime.records import PartitionProcessor, ProcessorFactory
from pipelines.runtime.stats import RunStats
from pipelines.runtime.transactions import Abortable, Transactions

__all__ = ["TP", "OwnedPartition", "Ownership"]

log = logging.getLogger(__name__)

TP = tuple[str, int]


@dataclass(slots=True)
class OwnedPartition:
    """One owned source partition: its processor and offsets.

    ``committed`` is where a rewind goes: the offset the last commit stored (or the start
    offset before the first commit, ``confirmed=False``); ``position`` is the next offset
    to process. ``touched`` says the processor changed since the last commit; its changes
    are taken at the latest when the transaction commits.
    """

    topic: str
    partition: int
    changelog: str
    processor: PartitionProcessor
    committed: int
    position: int
    confirmed: bool
    touched: bool = False
    untaken: int = 0  # records processed since the processor's changes were last taken

    @property
    def commit_due(self) -> bool:
        return not self.confirmed or self.position != self.committed

    def error(self, message: str, offset: int | None = None) -> ProcessorError:
        """A processor call on this partition failed at ``offset`` (default: its position)."""
        return ProcessorError(
            message, topic=self.topic, partition=self.partition,
            offset=self.position if offset is None else offset,
        )  # fmt: skip


class Ownership:
    """The owned partitions of one worker, kept in step with the group and the transaction.

    ``consumer`` and ``reader`` (the changelog reader) are set once the clients are open.
    Exceptions in a rebalance callback are kept in ``callback_error`` (librdkafka calls it
    inside ``consume()``) for the loop to raise; once ``failed`` is set the callbacks only
    drop partitions.
    """

    def __init__(
        self,
        config: RuntimeConfig,
        factory: ProcessorFactory,
        transactions: Transactions,
        idle: IdleTracker,
        stats: RunStats,
        clock: Callable[[], int],
    ) -> None:
        self.config = config
        self.factory = factory
        self.transactions = transactions
        self.idle = idle
        self.stats = stats
        self.clock = clock
        self.owned: dict[TP, OwnedPartition] = {}
        self.consumer: Any = None
        self.reader: ChangelogReader | None = None
        self.changelogs = config.changelog_topics()
        self.internal = set(config.internal_topics)
        self.timeout_s = config.operation_timeout_ms / 1000
        self.callback_error: BaseException | None = None
        self.failed = False
        #: Partitions sought back since the last consume(): see :meth:`drop_stale`.
        self.rewound: set[TP] = set()
        self.consuming = False  # inside consume(): rebalance callbacks run there
        self._cooperative = config.assignment_strategy == "cooperative-sticky"

    # -- commit and abort ------------------------------------------------------------------
    def commit(self, exclude_on_abort: Iterable[TP] = ()) -> bool:
        """Commit the open transaction with the positions of every owned partition.
        On an abortable failure: abort, rewind, rebuild (except ``exclude_on_abort``)."""
        if not self.transactions.open:
            return True
        owned = list(self.owned.values())
        offsets = [TopicPartition(o.topic, o.partition, o.position) for o in owned]
        try:
            for o in owned:
                if o.touched:
                    self.take_changes(o)
            self.transactions.commit(offsets, self.consumer)
        except Abortable as exc:
            self.abort_and_rewind(str(exc), exclude=set(exclude_on_abort))
            return False
        for o in owned:
            o.committed = o.position
            o.confirmed = True
            o.touched = False
        return True

    def take_changes(self, o: OwnedPartition) -> None:
        """Write ``o``'s state changes since the last take to its changelog partition.

        Taken before each commit (and after ``batch_max_records`` records of a partition,
        which bounds one changelog entry), not after every batch: a key changed by many
        batches of one transaction is then encoded and written once."""
        o.untaken = 0
        try:
            changes = o.processor.take_changes()
        except Exception as exc:
            raise o.error(f"take_changes() raised {exc!r}") from exc
        if changes:
            self.transactions.write_changes(o.changelog, o.partition, changes)

    def abort_and_rewind(self, reason: str, exclude: set[TP], *, every: bool = False) -> None:
        """Abort, then seek back and rebuild the partitions the transaction changed — or,
        with ``every`` (a failure in the middle of a batch, when records of untouched
        partitions may have been consumed but not processed), every owned partition."""
        self.transactions.abort(reason)
        if self.transactions.in_doubt:
            self._learn_committed()
            every = True
        rewind = [
            o
            for tp, o in self.owned.items()
            if tp not in exclude and (every or o.touched or o.position != o.committed)
        ]
        if not rewind:
            return
        for o in rewind:
            log.warning(
                "rewinding %s[%d] from %d to %d", o.topic, o.partition, o.position, o.committed
            )
            self.seek(o, o.committed)
            o.position = o.committed
            o.touched = False
            self.idle.rewound((o.topic, o.partition))
            if self.consuming:  # the batch consume() returns may hold stale records
                self.rewound.add((o.topic, o.partition))
        fresh = self.build_processors([(o.topic, o.partition) for o in rewind])
        for o in rewind:
            o.processor = fresh[(o.topic, o.partition)]

    def _learn_committed(self) -> None:
        """The last commit's outcome was not known (``Transactions.in_doubt``); a new
        producer has since fenced it, so the broker's committed offsets now say whether it
        committed. Rewind to those, not to the offsets remembered here: after a commit that
        landed, replaying from before it would write its results twice."""
        owned = list(self.owned.values())
        starts = self.start_offsets([TopicPartition(o.topic, o.partition) for o in owned])
        for o in owned:
            offset, confirmed = starts[(o.topic, o.partition)]
            if not confirmed:  # never committed: the start resolved when it was assigned
                continue
            if offset != o.committed:
                log.warning(
                    "%s[%d]: the transaction in doubt committed: resuming at %d, not %d",
                    o.topic, o.partition, offset, o.committed,
                )  # fmt: skip
            o.committed, o.confirmed = offset, True
        self.transactions.in_doubt = False
        self.stats.in_doubt_resolved += 1

    def seek(self, o: OwnedPartition, offset: int) -> None:
        try:
            self.consumer.seek(TopicPartition(o.topic, o.partition, offset))
        except KafkaException as exc:
            raise RuntimeFailure(
                f"cannot seek back to the committed offset: {exc}",
                topic=o.topic,
                partition=o.partition,
                offset=offset,
            ) from exc

    def drop_stale(self, msgs: list[Any]) -> list[Any]:
        """Forget what one consume() returned for partitions rewound meanwhile, and seek them
        again. A rewind inside a rebalance callback runs in the middle of consume(): records
        fetched before its seek can still come back in that batch, past the rewound position,
        and would be processed with a gap (the skipped records, re-delivered later, would then
        look like duplicates). Offsets alone cannot tell: read_committed and compaction leave
        gaps of their own."""
        rewound, self.rewound = self.rewound, set()
        kept = [m for m in msgs if (m.topic(), m.partition()) not in rewound]
        for tp in rewound:
            o = self.owned.get(tp)
            if o is None:
                continue
            self.seek(o, o.position)
            self.idle.rewound(tp)
        if len(kept) < len(msgs):
            log.info("dropped %d records fetched before a rewind", len(msgs) - len(kept))
        return kept

    def raise_callback_error(self) -> None:
        exc, self.callback_error = self.callback_error, None
        if exc is not None:
            raise exc

    # -- restore ---------------------------------------------------------------------------
    def build_processors(self, tps: Sequence[TP]) -> dict[TP, PartitionProcessor]:
        """Fresh processors for ``tps``, each restored from its changelog partition."""
        assert self.reader is not None
        out: dict[TP, PartitionProcessor] = {}
        by_topic: dict[str, list[int]] = {}
        for topic, p in tps:
            by_topic.setdefault(topic, []).append(p)
        t0 = time.monotonic()
        everything = self.reader.read_many(
            {self.changelogs[topic]: parts for topic, parts in by_topic.items()}
        )
        for topic, parts in by_topic.items():
            states = everything[self.changelogs[topic]]
            for p in parts:
                proc = self.factory(topic, p)
                state = states[p]
                try:
                    proc.restore(state.items())
                except Exception as exc:
                    raise ProcessorError(
                        f"restore() raised {exc!r}", topic=topic, partition=p
                    ) from exc
                out[(topic, p)] = proc
                self.stats.restored_partitions += 1
                self.stats.restored_keys += len(state)
            log.info(
                "restored %s partitions %s (%d keys) in %.2fs",
                topic,
                parts,
                sum(len(states[p]) for p in parts),
                time.monotonic() - t0,
            )
        return out

    def start_offsets(self, tps: list[TopicPartition]) -> dict[TP, tuple[int, bool]]:
        """``{tp: (start offset, committed?)}``. The committed offset if there is one (this
        waits while a transaction of a previous owner holds it unstable), else the
        configured starting position."""
        consumer = self.consumer
        deadline = time.monotonic() + self.timeout_s + self.config.transaction_timeout_ms / 1000
        while True:
            try:
                committed = consumer.committed(tps, timeout=self.timeout_s)
                break
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise RestoreError(f"cannot read committed offsets: {exc}") from exc
                log.warning("committed offsets not available yet: %s", exc)
        out: dict[TP, tuple[int, bool]] = {}
        for tp in committed:
            if tp.offset >= 0:
                out[(tp.topic, tp.partition)] = (tp.offset, True)
                continue
            low, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=self.timeout_s
            )  # read_committed: high is the last stable offset
            # a repartition topic is read from its beginning: all of it is the application's
            now = self.config.starting_position == NOW and tp.topic not in self.internal
            start = high if now else low
            out[(tp.topic, tp.partition)] = (start, False)
        return out

    # -- rebalance callbacks (run inside consume()) ----------------------------------------
    def on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        try:
            if self.failed or self.callback_error is not None:
                return
            new = [tp for tp in partitions if (tp.topic, tp.partition) not in self.owned]
            assign: list[TopicPartition] = []
            if new:
                # Resolving and restoring the new partitions can wait for a dead owner's
                # transaction to time out. Commit ours first: left open that long, it would
                # time out too, and the broker would fence this worker.
                self.commit()
                starts = self.start_offsets(new)
                procs = self.build_processors([(tp.topic, tp.partition) for tp in new])
                now = self.clock()
                for (topic, p), (start, confirmed) in starts.items():
                    self.owned[(topic, p)] = OwnedPartition(
                        topic,
                        p,
                        self.changelogs[topic],
                        procs[(topic, p)],
                        committed=start,
                        position=start,
                        confirmed=confirmed,
                    )
                    self.idle.add((topic, p), now)
                    assign.append(TopicPartition(topic, p, start))
                log.info(
                    "assigned %s",
                    ", ".join(f"{t}[{p}]@{s}" for (t, p), (s, _) in sorted(starts.items())),
                )
            if self._cooperative:
                consumer.incremental_assign(assign)
            else:
                consumer.assign(
                    [TopicPartition(o.topic, o.partition, o.position) for o in self.owned.values()]
                )
        except BaseException as exc:
            log.error("assignment failed: %s", exc)
            self.callback_error = exc

    def _drop(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self.owned.pop((tp.topic, tp.partition), None)
            self.idle.remove((tp.topic, tp.partition))

    def on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        gone = [(tp.topic, tp.partition) for tp in partitions]
        try:
            if not self.failed and self.callback_error is None:
                # Commit what was processed, for these partitions and the others.
                self.commit(exclude_on_abort=gone)
        except BaseException as exc:
            log.error("commit on revoke failed: %s", exc)
            self.callback_error = exc
        finally:
            self._drop(partitions)
            if partitions:
                log.info("revoked %s", ", ".join(f"{t}[{p}]" for t, p in gone))

    def on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        gone = {(tp.topic, tp.partition) for tp in partitions}
        log.warning("assignment lost: %s", ", ".join(f"{t}[{p}]" for t, p in sorted(gone)))
        try:
            if not self.failed and self.callback_error is None and self.transactions.open:
                # The group moved on: these offsets can no longer be committed by us.
                self.abort_and_rewind("partitions lost", exclude=gone)
        except BaseException as exc:
            self.callback_error = exc
        finally:
            self._drop(partitions)
