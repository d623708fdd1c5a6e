"""The S3 destination's write rules on the real MinIO: conditional writes, collisions,
multipart uploads, and aborting what a crashed worker left. Read back with botocore."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from connectors.core import Batch, Record
from connectors.core.outcome import NotWritten, Written
from connectors.s3 import Compression, S3Client, S3Destination
from ground.errors import KeyCollisionError
from ground.settings import Settings
from tests.integration.fixtures_sinks import s3_client
from tests.timestamps import recent_ms

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
T0 = recent_ms()  # record o has the timestamp T0 + o, in every batch of the session
T = TypeVar("T")


def records(start: int, n: int, *, width: int = 40, partition: int = 0) -> list[Record]:
    return [
        Record("t", partition, o, None,
               json.dumps({"id": o, "pad": hashlib.sha256(str(o).encode()).hexdigest()[:width]}
                          ).encode(), T0 + o)
        for o in range(start, start + n)
    ]


def run(settings: Settings, bucket: str, go: Callable[[S3Destination], Awaitable[T]],
        **kwargs: Any) -> T:
    async def main() -> T:
        client = S3Client.from_settings(settings)
        dest = S3Destination(client, bucket, prefix="out/", stream="it",
                             compression=kwargs.pop("compression", Compression.GZIP), **kwargs)
        await dest.open()
        try:
            return await go(dest)
        finally:
            await dest.close()

    return asyncio.run(main())


def test_rewriting_the_same_batch_succeeds_and_other_content_is_a_collision(
    stack_settings: Settings, bucket_factory
) -> None:
    bucket = bucket_factory("cond")
    batch = Batch.of(records(100, 50))

    async def write(dest: S3Destination, b: Batch = batch) -> Any:
        request = dest.encode(b)
        return dest.classify(b, request, await dest.send(request))

    first = run(stack_settings, bucket, write)
    again = run(stack_settings, bucket, write)  # a replay: same key, same bytes
    assert type(first).__name__ == type(again).__name__ == "Successful"
    boto = s3_client(stack_settings)
    (key,) = [o["Key"] for o in boto.list_objects_v2(Bucket=bucket)["Contents"]]
    before = boto.get_object(Bucket=bucket, Key=key)
    body = before["Body"].read()
    assert before["Metadata"]["batch-start"] == "100" and before["Metadata"]["batch-end"] == "149"
    assert before["Metadata"]["content-sha256"] == hashlib.sha256(body).hexdigest()

    shorter = Batch.of(records(100, 30))  # same first record, so the same key
    with pytest.raises(KeyCollisionError, match="already holds different content"):
        run(stack_settings, bucket, lambda d: write(d, shorter))
    assert boto.get_object(Bucket=bucket, Key=key)["Body"].read() == body  # untouched

    probe = run(stack_settings, bucket, lambda d: d.written(shorter))
    assert probe == Written(100, 149)
    assert run(stack_settings, bucket, lambda d: d.written(Batch.of(records(150, 5)))) == (
        NotWritten())


def test_large_objects_go_up_in_parts_and_read_back_whole(
    stack_settings: Settings, bucket_factory
) -> None:
    bucket = bucket_factory("multipart")
    recs = records(0, 60_000, width=64, partition=1)  # ~6 MiB uncompressed
    batch = Batch.of(recs)

    async def write(dest: S3Destination) -> Any:
        request = dest.encode(batch)
        assert len(request.objects[0].body) > 5 * MIB
        return dest.classify(batch, request, await dest.send(request))

    outcome = run(stack_settings, bucket, write, compression=Compression.UNCOMPRESSED,
                  multipart_threshold=5 * MIB, part_size=5 * MIB)
    assert type(outcome).__name__ == "Successful"
    boto = s3_client(stack_settings)
    (obj,) = boto.list_objects_v2(Bucket=bucket)["Contents"]
    got = boto.get_object(Bucket=bucket, Key=obj["Key"])
    assert got["ETag"].strip('"').endswith("-2")  # two parts
    lines = got["Body"].read().splitlines()
    assert lines == [r.value for r in recs]
    assert boto.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # The same object again: the conditional complete finds it identical.
    again = run(stack_settings, bucket, write, compression=Compression.UNCOMPRESSED,
                multipart_threshold=5 * MIB, part_size=5 * MIB)
    assert type(again).__name__ == "Successful"
    assert boto.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_incomplete_uploads_of_assigned_partitions_are_aborted(
    stack_settings: Settings, bucket_factory
) -> None:
    bucket = bucket_factory("abort")
    boto = s3_client(stack_settings)
    mine = "out/2026/11/22/10/it-t+0+00000000000000000042.jsonl.gz"
    other = "out/2026/11/22/10/it-t+1+00000000000000000042.jsonl.gz"
    other_stream = "out/2026/11/22/10/itx-t+0+00000000000000000042.jsonl.gz"
    for key in (mine, other, other_stream):
        upload = boto.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        boto.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 10)

    aborted = run(stack_settings, bucket, lambda d: d.prepare([("t", 0)]))
    assert aborted == 1
    left = {u["Key"] for u in boto.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}
    assert left == {other, other_stream}
    for u in boto.list_multipart_uploads(Bucket=bucket)["Uploads"]:
        boto.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])


def test_a_multipart_upload_onto_other_content_is_a_collision_and_is_aborted(
    stack_settings: Settings, bucket_factory
) -> None:
    """MinIO honours If-None-Match on CompleteMultipartUpload: the existing object stays as it
    was, the refused upload is aborted, and the error names the key."""
    bucket = bucket_factory("mpcollide")
    big = Batch.of(records(0, 60_000, width=64, partition=2))
    small = Batch.of(records(0, 10, partition=2))  # the same first record: the same key
    kwargs: dict[str, Any] = {"compression": Compression.UNCOMPRESSED,
                              "multipart_threshold": 5 * MIB, "part_size": 5 * MIB}

    async def write(dest: S3Destination, b: Batch) -> Any:
        request = dest.encode(b)
        return dest.classify(b, request, await dest.send(request))

    assert type(run(stack_settings, bucket, lambda d: write(d, small), **kwargs)).__name__ == (
        "Successful")
    boto = s3_client(stack_settings)
    (key,) = [o["Key"] for o in boto.list_objects_v2(Bucket=bucket)["Contents"]]
    before = boto.get_object(Bucket=bucket, Key=key)["Body"].read()
    with pytest.raises(KeyCollisionError, match=key.replace("+", r"\+")):
        run(stack_settings, bucket, lambda d: write(d, big), **kwargs)
    assert boto.get_object(Bucket=bucket, Key=key)["Body"].read() == before
    assert before.splitlines() == [r.value for r in small.records]
    assert boto.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
