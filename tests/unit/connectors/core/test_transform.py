"""The delivery core with a transform stage and a source backup (in-memory destinations)."""

import asyncio
import base64
import json
from typing import Any

import pytest

from connectors.core import BufferingHints, DeliveryCore, RetryOptions
from connectors.core.outcome import NotWritten
from connectors.core.records import Batch
from connectors.transform import (
    ActivePartitions,
    Deaggregator,
    MetadataExtractor,
    ProcessingHook,
    TransformStage,
)
from ground.errors import PermanentDeliveryError
from tests.unit.connectors.helpers import MemoryDestination, no_sleep, rec
from tests.unit.fakes import ManualClock

HINTS = BufferingHints(size_bytes=10**6, max_records=6, interval_ms=1_000)
RETRY = RetryOptions(duration_ms=10_000, max_attempts=3)


def verdicts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        doc = json.loads(base64.b64decode(r["data"]))
        result = doc.get("result", "Ok")
        out.append({"recordId": r["recordId"], "result": result, "data": r["data"]})
    return out


class Metrics:
    def __init__(self) -> None:
        self.processing: list[tuple[str, bool]] = []

    def track(self, source: object) -> None: ...
    def on_incoming(self, *args: object) -> None: ...
    def on_flush(self, report: object) -> None: ...
    def on_commit(self, *args: object) -> None: ...

    def on_processing(self, delivery: str, destination: str, seconds: float, ok: bool) -> None:
        self.processing.append((destination, ok))


def make(stage: TransformStage, *, backup: MemoryDestination | None = None,
         source_backup: MemoryDestination | None = None,
         dest: MemoryDestination | None = None, metrics: Metrics | None = None) -> DeliveryCore:
    return DeliveryCore("d", dest or MemoryDestination(), hints=HINTS, retry=RETRY,
                        backup=backup, clock=ManualClock(), wall_clock=lambda: 42,
                        sleep=no_sleep, transform=stage, source_backup=source_backup,
                        metrics=metrics)


VALUES = [
    b'{"c": "a", "result": "Ok"}',
    b'{"c": "b", "result": "Dropped"}',
    b'{"c": "a", "result": "ProcessingFailed"}',
    b'{"result": "Ok"}',  # no "c": the query fails
    b'{"c": "z", "result": "Ok"}',  # the second partition ("b" was dropped: never held)
    b'{"c": "b", "result": "Ok"}',  # a third partition: over the limit of 2
]


def test_outputs_delivered_failures_backed_up_by_type_then_committed() -> None:
    dest, backup, source = (MemoryDestination(), MemoryDestination(name="backup"),
                            MemoryDestination(name="source"))
    metrics = Metrics()
    stage = TransformStage(hook=ProcessingHook(verdicts, name="my.hooks:verdicts"),
                           extractor=MetadataExtractor("{c: .c}"),
                           partitions=ActivePartitions(2), required_keys=("c",))
    c = make(stage, backup=backup, source_backup=source, dest=dest, metrics=metrics)
    for o, v in enumerate(VALUES):
        c.add(rec(o, v))
    asyncio.run(c.flush(c.due()))
    assert [(r.offset, r.partition_keys) for b in dest.sent for r in b.records] == [
        (0, (("c", "a"),)), (4, (("c", "z"),))]
    # one backup batch in offset order, each failure keeping its error-output-type
    assert [(r.offset, r.error_output_type) for b in backup.sent for r in b.records] == [
        (2, "processing-failed"),
        (3, "DynamicPartitioning.MetadataExtractionFailed"),
        (5, "DynamicPartitioning.ActivePartitionsExceeded"),
    ]
    docs = {r.offset: json.loads(r.value or b"") for b in backup.sent for r in b.records}
    assert base64.b64decode(docs[2]["rawData"]) == VALUES[2]
    assert docs[2]["lambdaArn"] == "my.hooks:verdicts" and docs[2]["attemptsMade"] == 1
    assert "lambdaArn" not in docs[3]
    # the source backup got every source record unchanged
    assert [(r.offset, r.value) for b in source.sent for r in b.records] == list(
        enumerate(VALUES))
    assert c.committable() == {("t", 0): 6}
    assert metrics.processing == [("memory", True)]  # the hook, timed (not the encoding)
    assert c.partition_count() == 0  # released once durable
    assert c.partition_count_exceeded() == 1


def test_no_backup_means_no_commit() -> None:
    c = make(TransformStage(hook=ProcessingHook(verdicts)))
    for o, v in enumerate(VALUES[:3]):
        c.add(rec(o, v))
    with pytest.raises(PermanentDeliveryError, match="no backup"):
        asyncio.run(c.flush(c.drain()))
    assert c.committable() == {}


def test_all_dropped_is_acked_without_a_write() -> None:
    dest = MemoryDestination()
    c = make(TransformStage(hook=ProcessingHook(verdicts)), dest=dest)
    c.add(rec(0, b'{"result": "Dropped"}'))
    asyncio.run(c.flush(c.drain()))
    assert dest.sent == [] and c.committable() == {("t", 0): 1}


def test_a_failing_source_backup_blocks_the_commit() -> None:
    def refuse(batch: Batch) -> Any:
        from connectors.core import DontRetry, Rejected
        return DontRetry(tuple(Rejected(r, "AccessDenied", "no") for r in batch.records), "no")

    source = MemoryDestination(name="source", script=[refuse])
    dest = MemoryDestination()
    c = make(TransformStage(deaggregator=Deaggregator()), source_backup=source, dest=dest)
    c.add(rec(0, b'{"a": 1}{"a": 2}'))
    with pytest.raises(PermanentDeliveryError, match="source backup"):
        asyncio.run(c.flush(c.drain()))
    assert [r.sub for b in dest.sent for r in b.records] == [0, 1]
    assert c.committable() == {}


class ProbedDestination(MemoryDestination):
    """Can tell what a previous owner wrote (nothing), like S3: the core probes it while a
    partition recovers."""

    async def written(self, batch: Batch) -> NotWritten:
        return NotWritten()


def test_the_hook_is_called_once_per_batch_while_recovering() -> None:
    """The probe transforms the first batch to ask about its output; that output is what is
    sent, the hook is not called again for it."""
    calls: list[int] = []

    def counting(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        calls.append(len(records))
        return verdicts(records)

    dest = ProbedDestination()
    stage = TransformStage(hook=ProcessingHook(counting), extractor=MetadataExtractor("{c: .c}"),
                           partitions=ActivePartitions(5), required_keys=("c",))
    c = make(stage, dest=dest, backup=MemoryDestination(name="backup"))
    for o in range(12):  # two batches of six
        c.add(rec(o, json.dumps({"c": f"k{o % 3}"}).encode()))
    asyncio.run(c.flush(c.due()))
    assert calls == [6, 6]
    assert dest.offsets == list(range(12))
    assert c.committable() == {("t", 0): 12}
    assert c.partition_count() == 0  # what the probe admitted was released once durable


def test_attempts_of_partitions_transformed_at_once_are_their_own() -> None:
    """Two partitions flushed together, each hook call failing after its retries: every
    failure document says retries + 1 attempts."""

    async def failing(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await asyncio.sleep(0)  # let the other partition's call interleave
        raise RuntimeError("down")

    backup = MemoryDestination(name="backup")
    stage = TransformStage(hook=ProcessingHook(failing, retries=2, sleep=no_sleep))
    c = make(stage, backup=backup)
    for o in range(3):
        for p in (0, 1):
            c.add(rec(o, b'{"n": 1}', partition=p))
    asyncio.run(c.flush(c.drain()))
    docs = [json.loads(r.value or b"") for b in backup.sent for r in b.records]
    assert len(docs) == 6
    assert {d["attemptsMade"] for d in docs} == {3}
