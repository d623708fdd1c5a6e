"""A delivery's two backups: the failure backup and the source backup.

**Failure backup** (``backup``): records the destination (or the transform) refused for good
are written there as failure documents, in (offset, sub) order, each keeping its
error-output-type, by which the S3 backup writes one object per type. Without a backup, or
when the backup refuses them too, the flush fails and nothing is committed.

**Source backup** (Firehose's ``S3BackupMode`` ``AllDocuments`` / ``Enabled``): every batch is
also written, as consumed, to that destination, at the same time as to the main one; its
offsets are acked only when both are durable, and a batch the source backup cannot write
stops the delivery like any permanent failure without a backup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from connectors.core.destination import Destination
from connectors.core.failures import FailureFormatter, to_backup_record
from connectors.core.records import Batch, Rejected
from connectors.core.retry import DeliveryResult, OnEncode, RetryOptions, Sleep, deliver_batch
from ground.clock import Clock
from ground.errors import PermanentDeliveryError

__all__ = ["Backups"]

log = logging.getLogger(__name__)


class Backups:
    """Sends to the failure backup and the source backup, and says when they failed."""

    def __init__(
        self,
        name: str,
        *,
        backup: Destination | None,
        source_backup: Destination | None,
        retry: RetryOptions,
        format_failure: FailureFormatter,
        wall_clock: Clock,
        sleep: Sleep,
        on_encode: Callable[[Destination], OnEncode | None],
    ) -> None:
        """``on_encode(destination)``: what to tell about each encode call of a backup."""
        self.name = name
        self.backup = backup
        self.source_backup = source_backup
        self.retry = retry
        self.format_failure = format_failure
        self.wall_clock = wall_clock
        self.sleep = sleep
        self.on_encode = on_encode

    async def send_source(self, source: Batch) -> DeliveryResult | None:
        """``source`` as consumed to the source backup (None: no source backup, or nothing
        to write)."""
        if self.source_backup is None or all(r.value is None for r in source.records):
            return None
        return await deliver_batch(self.source_backup, source, self.retry, sleep=self.sleep,
                                   on_encode=self.on_encode(self.source_backup))

    def source_error(self, batch: Batch, result: DeliveryResult | None
                     ) -> PermanentDeliveryError | None:
        """The error stopping the delivery when the source backup refused part of ``batch``."""
        if result is None or not result.rejected:
            return None
        assert self.source_backup is not None
        failed = result.rejected[0]
        return PermanentDeliveryError(
            f"{self.name}: the source backup to {self.source_backup.name} failed for"
            f" {len(result.rejected)} record(s) of {batch.topic}[{batch.partition}]"
            f" offsets {batch.start_offset}..{batch.end_offset} (first: offset"
            f" {failed.record.offset}: {failed.error_code}: {failed.error_message});"
            " offsets are not committed",
            destination=self.source_backup.name,
        )

    async def back_up(
        self,
        batch: Batch,
        rejected: list[Rejected],
        attempts: dict[int, int],
        default_attempts: int,
        *,
        destination: str,
    ) -> tuple[DeliveryResult | None, PermanentDeliveryError | None]:
        """Failure documents of ``rejected`` (records of ``batch`` that ``destination``
        refused) to the backup: what the backup did, and the error stopping the delivery
        (no backup, or the backup refused them too). ``attempts`` (by record id) says how
        often each was tried, ``default_attempts`` for those it does not name."""
        first = rejected[0]
        where = (
            f"{self.name}: {len(rejected)} record(s) of {batch.topic}[{batch.partition}]"
            f" offsets {batch.start_offset}..{batch.end_offset} failed permanently"
            f" (first: offset {first.record.offset}: {first.error_code}: {first.error_message})"
        )
        if self.backup is None:
            return None, PermanentDeliveryError(
                where + "; no backup is configured, offsets are not committed",
                destination=destination,
            )
        now = self.wall_clock()
        records = sorted(
            (to_backup_record(r, attempts.get(id(r), default_attempts), now,
                              self.format_failure)
             for r in rejected),
            key=lambda r: (r.offset, r.sub),
        )
        result = await deliver_batch(self.backup, Batch.of(records), self.retry,
                                     sleep=self.sleep, on_encode=self.on_encode(self.backup))
        if result.rejected:
            failed = result.rejected[0]
            return result, PermanentDeliveryError(
                where + f"; the backup to {self.backup.name} failed too"
                f" ({failed.error_code}: {failed.error_message}); offsets are not committed",
                destination=destination,
            )
        log.warning("%s; backed up to %s", where, self.backup.name)
        return result, None
