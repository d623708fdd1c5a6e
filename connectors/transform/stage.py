"""The transform stage: deaggregation → processing hook → metadata extraction → delimiter.

``await stage.apply(batch)`` returns the records to deliver and the records that failed. An
output record keeps its source's topic, partition, offset, key and timestamp; ``sub`` numbers
the sub-records of one source record (0 without deaggregation) and ``partition_keys`` holds the
dynamic-partitioning keys (the hook's ``metadata.partitionKeys`` first, then the query's, a
query key overriding a hook key of the same name).

A failure's ``record`` is the record as it entered the failing step — the source record,
or with deaggregation the sub-record (its bytes, ``sub`` set) — so the error envelope's
``rawData`` is exactly what the hook or the query was given. Records the hook drops are
neither delivered nor failed; their offsets are acknowledged with the batch.

With dynamic partitioning, admitted records hold their partition in ``partitions`` (see
:class:`~connectors.transform.partitioning.ActivePartitions`) until the caller calls
:meth:`TransformStage.release` once the batch is durable.
"""

from __future__ import annotations

import time
from dataclasses import replace

from connectors.core.failures import FailureFormatter
from connectors.core.records import Batch, Record, Rejected
from connectors.core.retry import Timer
from connectors.core.transform import HookTiming, Transform, Transformed
from connectors.transform.deaggregate import DeaggregationError, Deaggregator
from connectors.transform.hook import (
    INVOCATION_FAILURES,
    PROCESSING_FAILED,
    HookInput,
    ProcessingHook,
)
from connectors.transform.partitioning import (
    ACTIVE_PARTITION_EXCEEDED,
    PARTITIONING_FAILED,
    ActivePartitions,
    MetadataExtractionError,
    MetadataExtractor,
)

__all__ = ["TransformStage", "with_lambda_arn"]


def with_lambda_arn(base: FailureFormatter, hook_name: str) -> FailureFormatter:
    """``base``, plus Firehose's ``lambdaArn`` (the hook's name) for processing failures."""

    def formatter(rejected: Rejected, attempts: int, now_ms: int) -> dict[str, object]:
        doc = base(rejected, attempts, now_ms)
        if rejected.error_output_type == PROCESSING_FAILED:
            doc["lambdaArn"] = hook_name
        return doc

    return formatter


def record_id(record: Record) -> str:
    return f"{record.topic}:{record.partition}:{record.offset}:{record.sub}"


class TransformStage(Transform):
    """The steps Firehose's processing configuration names, each optional, in its order."""

    partitions: ActivePartitions | None

    def __init__(
        self,
        *,
        deaggregator: Deaggregator | None = None,
        hook: ProcessingHook | None = None,
        extractor: MetadataExtractor | None = None,
        append_delimiter: bytes | None = None,
        partitions: ActivePartitions | None = None,
        required_keys: tuple[str, ...] = (),
        timer: Timer = time.perf_counter,
    ) -> None:
        """``required_keys``: the partition keys the S3 prefix uses; a record lacking one
        fails (as a metadata-extraction failure) instead of failing the whole object."""
        self.deaggregator = deaggregator
        self.hook = hook
        self.extractor = extractor
        self.append_delimiter = append_delimiter
        self.partitions = partitions
        self.required_keys = required_keys
        self.timer = timer

    async def apply(self, batch: Batch) -> Transformed:
        failures: list[Rejected] = []
        # hook invocations per failure (by id): local, as partitions are transformed at once
        hook_attempts: dict[int, int] = {}
        records = self._deaggregate(batch, failures)
        dropped = 0
        timing: HookTiming | None = None
        if self.hook is not None and records:
            records, dropped, timing = await self._process(records, failures, hook_attempts)
        if self.extractor is not None:
            records = self._extract(records, failures)
        if self.required_keys:
            records = self._check_keys(records, failures)
        if self.partitions is not None:
            records = self._admit(records, failures)
        if self.append_delimiter:
            records = [replace(r, value=(r.value or b"") + self.append_delimiter)
                       for r in records]
        attempts = tuple(hook_attempts.get(id(f), 1) for f in failures)
        return Transformed(tuple(records), tuple(failures), dropped, timing, attempts)

    def release(self, transformed: Transformed) -> None:
        """The batch ``transformed`` came from is durable: its partitions are no longer held."""
        if self.partitions is not None:
            self.partitions.release(r.partition_keys for r in transformed.records)

    @property
    def times_processing(self) -> bool:
        return self.hook is not None

    def failure_formatter(self, base: FailureFormatter) -> FailureFormatter:
        """``base``, naming the hook in the documents of the records it failed."""
        return base if self.hook is None else with_lambda_arn(base, self.hook.name)

    def _deaggregate(self, batch: Batch, failures: list[Rejected]) -> list[Record]:
        if self.deaggregator is None:
            return list(batch.records)
        out: list[Record] = []
        for record in batch.records:
            if record.value is None:
                continue  # a tombstone has nothing to split or deliver
            try:
                parts = self.deaggregator.split(record.value)
            except DeaggregationError as exc:
                failures.append(Rejected(record, "Deaggregation.Failed", str(exc),
                                         error_output_type=PROCESSING_FAILED))
                continue
            out.extend(replace(record, value=part, sub=i) for i, part in enumerate(parts))
        return out

    async def _process(
        self, records: list[Record], failures: list[Rejected], attempts: dict[int, int]
    ) -> tuple[list[Record], int, HookTiming]:
        assert self.hook is not None
        inputs = [HookInput(record_id(r), r.value or b"", r.timestamp_ms) for r in records]
        started = self.timer()
        outcomes = await self.hook.process(inputs)
        seconds = self.timer() - started
        out: list[Record] = []
        dropped = 0
        for record, outcome in zip(records, outcomes, strict=True):
            if outcome.result == "Ok":
                out.append(replace(record, value=outcome.data,
                                   partition_keys=outcome.partition_keys))
            elif outcome.result == "Dropped":
                dropped += 1
            else:
                failed = Rejected(record, outcome.error_code, outcome.error_message,
                                  error_output_type=PROCESSING_FAILED)
                attempts[id(failed)] = outcome.attempts
                failures.append(failed)
        # ExecuteProcessing.Success counts invocations: a ProcessingFailed verdict is a
        # successful call, an exception, a timeout or a malformed answer is not.
        ok = not any(o.error_code in INVOCATION_FAILURES for o in outcomes)
        return out, dropped, HookTiming(seconds, ok)

    def _extract(self, records: list[Record], failures: list[Rejected]) -> list[Record]:
        assert self.extractor is not None
        out: list[Record] = []
        for record in records:
            try:
                keys = self.extractor.extract(record.value)
            except MetadataExtractionError as exc:
                failures.append(Rejected(record, PARTITIONING_FAILED,
                                         str(exc), error_output_type=PARTITIONING_FAILED))
                continue
            merged = dict(record.partition_keys)
            merged.update(keys)
            out.append(replace(record, partition_keys=tuple(merged.items())))
        return out

    def _check_keys(self, records: list[Record], failures: list[Rejected]) -> list[Record]:
        out: list[Record] = []
        for record in records:
            have = {name for name, _ in record.partition_keys}
            missing = [k for k in self.required_keys if k not in have]
            if missing:
                failures.append(Rejected(record, PARTITIONING_FAILED,
                                         f"no value for partition key {missing[0]!r}",
                                         error_output_type=PARTITIONING_FAILED))
            else:
                out.append(record)
        return out

    def _admit(self, records: list[Record], failures: list[Rejected]) -> list[Record]:
        assert self.partitions is not None
        out: list[Record] = []
        for record in records:
            if self.partitions.admit(record.partition_keys):
                out.append(record)
            else:
                failures.append(Rejected(
                    record, ACTIVE_PARTITION_EXCEEDED,
                    f"more than {self.partitions.limit} active partitions",
                    error_output_type=ACTIVE_PARTITION_EXCEEDED))
        return out
