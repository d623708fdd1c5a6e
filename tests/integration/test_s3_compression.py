"""Every Firehose CompressionFormat through the real MinIO: the object's key extension and
Content-Encoding as Firehose's, its bytes decoded here independently (stdlib gzip/zipfile, the
snappy containers parsed by hand), and read back by ``shardline.verify.read_s3_jsonl``, whose
HTTP client must not undo ``Content-Encoding: gzip``."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import struct
import zipfile

import cramjam
import pytest

from connectors import CompressionFormat, S3Client, S3Destination
from connectors.core import Batch, Record
from ground.settings import Settings
from shardline.verify import read_s3_jsonl
from tests.integration.fixtures_sinks import s3_client
from tests.timestamps import recent_ms

pytestmark = pytest.mark.integration

ROWS = [{"ticker": f"T{i % 5}", "i": i, "pad": "x" * (i % 200)} for i in range(400)]


def _chunks(data: bytes, pos: int) -> tuple[bytes, int]:
    (size,) = struct.unpack(">I", data[pos : pos + 4])
    return bytes(cramjam.snappy.decompress_raw(data[pos + 4 : pos + 4 + size])), pos + 4 + size


def _independent(fmt: str, data: bytes) -> bytes:
    if fmt == "UNCOMPRESSED":
        return data
    if fmt == "GZIP":
        return gzip.decompress(data)
    if fmt == "ZIP":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            (name,) = archive.namelist()
            return archive.read(name)
    out, pos = [], 0
    if fmt == "Snappy":
        assert data[:8] == b"\x82SNAPPY\x00"
        pos = 16
    while pos < len(data):
        if fmt == "HADOOP_SNAPPY":
            pos += 4  # the uncompressed length
        chunk, pos = _chunks(data, pos)
        out.append(chunk)
    return b"".join(out)


@pytest.mark.parametrize("fmt", list(CompressionFormat))
def test_each_format_lands_as_firehose_writes_it(
    stack_settings: Settings, bucket_factory, fmt: CompressionFormat
) -> None:
    s = stack_settings
    bucket = bucket_factory("compress")
    start = recent_ms()
    records = [Record("t", 0, i, b"k", json.dumps(r).encode(), start + i)
               for i, r in enumerate(ROWS)]

    async def deliver() -> None:
        client = S3Client.from_settings(s)
        dest = S3Destination(client, bucket, prefix="out/", stream="it", compression=fmt)
        await dest.open()
        try:
            (response,) = await dest.send(dest.encode(Batch.of(records)))
            assert response.ok, response.message
        finally:
            await dest.close()

    asyncio.run(deliver())
    boto = s3_client(s)
    (obj,) = boto.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]
    assert obj["Key"].endswith(".jsonl" + fmt.extension)
    got = boto.get_object(Bucket=bucket, Key=obj["Key"])
    assert got.get("ContentEncoding", "") == fmt.content_encoding
    body = got["Body"].read()
    boto.close()
    assert [json.loads(x) for x in _independent(fmt.value, body).splitlines()] == ROWS

    count, rows = asyncio.run(read_s3_jsonl(s, bucket, "out/"))
    assert count == 1 and rows == ROWS
