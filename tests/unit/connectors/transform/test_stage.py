import asyncio
import base64
import json
from typing import Any

from connectors.core import Batch, Record
from connectors.transform import (
    ACTIVE_PARTITION_EXCEEDED,
    PARTITIONING_FAILED,
    PROCESSING_FAILED,
    ActivePartitions,
    Deaggregator,
    MetadataExtractor,
    ProcessingHook,
    SubRecordType,
    TransformStage,
)


def rec(offset: int, value: bytes | None) -> Record:
    return Record("t", 0, offset, None, value, 1_700_000_000_000 + offset)


def hook(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        doc = json.loads(base64.b64decode(r["data"]))
        result = "Dropped" if doc.get("drop") else "ProcessingFailed" if doc.get("fail") else "Ok"
        doc["seen"] = r["recordId"]
        out.append({"recordId": r["recordId"], "result": result,
                    "data": base64.b64encode(json.dumps(doc).encode()).decode()})
    return out


def test_full_stage_order_and_outputs() -> None:
    source = [
        rec(0, b'{"c": "a", "i": 0}{"c": "b", "i": 1}'),
        rec(1, b'{"c": "a", "drop": true}'),
        rec(2, b'{"c": "a", "fail": true}{"i": 5}'),  # sub 1 has no "c": query fails
        rec(3, b"not json"),
    ]
    stage = TransformStage(
        deaggregator=Deaggregator(), hook=ProcessingHook(hook),
        extractor=MetadataExtractor("{c: .c}"), append_delimiter=b"\n",
        partitions=ActivePartitions(10), required_keys=("c",),
    )
    t = asyncio.run(stage.apply(Batch.of(source)))
    got = [(r.offset, r.sub, r.partition_keys, json.loads(r.value or b"")) for r in t.records]
    assert got == [
        (0, 0, (("c", "a"),), {"c": "a", "i": 0, "seen": "t:0:0:0"}),
        (0, 1, (("c", "b"),), {"c": "b", "i": 1, "seen": "t:0:0:1"}),
    ]
    assert all(r.value is not None and r.value.endswith(b"\n") for r in t.records)
    assert t.dropped == 1
    failures = [(f.record.offset, f.record.sub, f.error_output_type, f.record.value)
                for f in t.failures]
    assert failures == [
        (3, 0, PROCESSING_FAILED, b"not json"),  # deaggregation
        (2, 0, PROCESSING_FAILED, b'{"c": "a", "fail": true}'),  # the hook's verdict
        (2, 1, PARTITIONING_FAILED,
         json.dumps({"i": 5, "seen": "t:0:2:1"}).encode()),  # the query's input
    ]
    assert t.hook is not None and t.hook.succeeded  # a ProcessingFailed verdict is no error
    assert len(stage.partitions or ()) == 2
    stage.release(t)
    assert len(stage.partitions or ()) == 0


def test_limit_rejects_records_opening_a_partition_over_the_limit() -> None:
    stage = TransformStage(extractor=MetadataExtractor("{c: .c}"), partitions=ActivePartitions(2))
    values = [b'{"c": "%d"}' % (i % 4) for i in range(8)]
    t = asyncio.run(stage.apply(Batch.of([rec(i, v) for i, v in enumerate(values)])))
    assert [r.offset for r in t.records] == [0, 1, 4, 5]
    assert [(f.record.offset, f.error_output_type) for f in t.failures] == [
        (i, ACTIVE_PARTITION_EXCEEDED) for i in (2, 3, 6, 7)]
    # the same partitions are still held (the first batch is not delivered yet)
    t2 = asyncio.run(stage.apply(Batch.of([rec(8, b'{"c": "2"}'), rec(9, b'{"c": "0"}')])))
    assert [r.offset for r in t2.records] == [9]
    stage.release(t)
    stage.release(t2)
    t3 = asyncio.run(stage.apply(Batch.of([rec(10, b'{"c": "2"}')])))
    assert [r.offset for r in t3.records] == [10]


def test_lambda_keys_merge_with_query_keys() -> None:
    def keyed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"recordId": r["recordId"], "result": "Ok", "data": r["data"],
                 "metadata": {"partitionKeys": {"l": "1", "c": "lambda"}}} for r in records]

    stage = TransformStage(hook=ProcessingHook(keyed), extractor=MetadataExtractor("{c: .c}"))
    t = asyncio.run(stage.apply(Batch.of([rec(0, b'{"c": "q"}')])))
    assert t.records[0].partition_keys == (("l", "1"), ("c", "q"))


def test_delimited_tombstones_and_nothing_configured() -> None:
    stage = TransformStage(deaggregator=Deaggregator(SubRecordType.DELIMITED, b";"))
    t = asyncio.run(stage.apply(Batch.of([rec(0, b"a;b;"), rec(1, None), rec(2, b"c")])))
    assert [(r.offset, r.sub, r.value) for r in t.records] == [
        (0, 0, b"a"), (0, 1, b"b"), (2, 0, b"c")]
    plain = asyncio.run(TransformStage().apply(Batch.of([rec(0, b"x")])))
    assert plain.records == (rec(0, b"x"),) and not plain.failures
    assert plain.batch(Batch.of([rec(0, b"x")])) is not None
