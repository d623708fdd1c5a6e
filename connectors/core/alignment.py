"""Replay alignment: a replay re-cuts its batches where the previous owner cut them.

Batches are cut by size, count or the wall-clock interval, so a worker that replays from the
committed offset may cut differently from the one that crashed after writing but before
committing. A destination whose writes are keyed by content (S3) answers
``await written(batch)`` (:meth:`~connectors.core.destination.Destination.written`). Until a
partition's first batch that a previous owner did *not* write, the core asks before each
send: when the previous owner's batch ended at ``Y`` and ours does not, the records go back
into the buffer, which is then cut exactly at ``Y`` (holding size, count and interval), so
the same objects are written again — identical bytes, which the destination's conditional
write recognises — and never a second, differently cut copy. A partition's batches are
written in offset order, one after another, so the first batch nobody wrote ends the search.

When the main destination cannot tell what a previous owner wrote (Elasticsearch), the
source backup is asked instead: it received the very same batches, so replay alignment keeps
its content-keyed objects identical.
"""

from __future__ import annotations

import logging

from connectors.core.destination import Destination
from connectors.core.outcome import NoOutput, NotWritten, Probe, Written
from connectors.core.records import Batch
from connectors.core.retry import RetryOptions, Sleep
from connectors.core.transform import Transform, Transformed
from ground.clock import Clock
from ground.errors import DeliveryError, RetriableDeliveryError

__all__ = ["ReplayAlignment"]

log = logging.getLogger(__name__)


class ReplayAlignment:
    """Asks what a previous owner wrote of a batch, and where a replay must cut instead."""

    def __init__(
        self,
        name: str,
        destination: Destination,
        *,
        source_backup: Destination | None,
        transform: Transform | None,
        retry: RetryOptions,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self.name = name
        self.destination = destination
        self.source_backup = source_backup
        self.transform = transform
        self.retry = retry
        self.clock = clock
        self.sleep = sleep

    async def probe(self, batch: Batch) -> tuple[Probe | None, Transformed | None]:
        """What a previous owner wrote of ``batch`` (None: nobody can tell), asking again on
        transient failures for up to the retry duration.

        With a transform the destination's keys depend on what the transform makes of the
        batch (partition keys, dropped records): the source backup, written with the same cut
        and keyed by the source records, is asked when it can tell; otherwise the transform is
        applied to the batch and the destination is asked about its output, which carries the
        source batch's cut. That output is returned with the answer, to be sent as it is: the
        processing hook is called once per batch, and what is written is what was probed."""
        if self.transform is None:
            probe = await self._ask(self.destination, batch)
            if probe is None and self.source_backup is not None:
                probe = await self._ask(self.source_backup, batch)
            return probe, None
        if self.source_backup is not None:
            probe = await self._ask(self.source_backup, batch)
            if probe is not None:
                return probe, None
        transformed = await self.transform.apply(batch)
        output = transformed.batch(batch)
        if output is None:
            return NoOutput(), transformed
        try:
            return await self._ask(self.destination, output), transformed
        except BaseException:
            self.transform.release(transformed)
            raise

    def recut_at(self, batch: Batch, probe: Probe | None) -> int | None:
        """The offset ``batch`` must be re-cut at to match what a previous owner wrote, or
        None to send it as it is."""
        if not isinstance(probe, Written) or probe.end_offset == batch.end_offset:
            return None
        # Its start may differ from ours: records without output (tombstones, dropped) were
        # cut off first, by us or by it. When it starts later, the records before it make no
        # output: cut them off alone first.
        end = probe.end_offset
        if probe.start_offset > batch.start_offset:
            end = probe.start_offset - 1
        log.info("%s: %s[%d] %d..%d was written before as %d..%d: re-cutting", self.name,
                 batch.topic, batch.partition, batch.start_offset, batch.end_offset,
                 probe.start_offset, probe.end_offset)
        return end

    @staticmethod
    def settled(probe: Probe | None) -> bool:
        """Whether the search is over for the partition: nobody wrote the batch (the ones
        after it neither), or nobody can tell."""
        return probe is None or isinstance(probe, NotWritten)

    async def _ask(self, destination: Destination, batch: Batch) -> Probe | None:
        """``await destination.written(batch)``, again on transient failures for up to the
        retry duration."""
        deadline = self.clock() + self.retry.duration_ms
        backoff_ms = self.retry.initial_backoff_ms
        while True:
            try:
                return await destination.written(batch)
            except RetriableDeliveryError as exc:
                if self.clock() + backoff_ms > deadline:
                    raise DeliveryError(
                        f"{self.name}: cannot tell what was written before: {exc}",
                        destination=self.destination.name,
                    ) from exc
                log.info("%s: probe failed, again in %d ms: %s", self.name, backoff_ms, exc)
                await self.sleep(backoff_ms / 1000)
                backoff_ms = min(backoff_ms * 2, self.retry.max_backoff_ms)
