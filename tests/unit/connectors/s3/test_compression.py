"""Firehose's compression formats: round trips, determinism, and the wire format of each
checked by hand (headers parsed here, chunks decoded with cramjam's raw snappy, gzip and zip
read back with the standard library)."""

import asyncio
import gzip
import io
import struct
import uuid
import zipfile

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import Compression as TopLevelCompression
from connectors import CompressionFormat as TopLevelFormat
from connectors.core import Batch
from connectors.s3 import Compression, CompressionFormat, S3Destination, S3Response, format_for_key
from ground.errors import CodecError
from tests.unit.connectors.helpers import rec

ALL = list(CompressionFormat)
BIG = bytes(range(256)) * 400 + b"tail"  # 102404 bytes: four 32 KiB snappy blocks
SNAPPY_JAVA_HEADER = bytes.fromhex("82 53 4e 41 50 50 59 00 00000001 00000001")
FRAMED_STREAM_ID = bytes.fromhex("ff 06 00 00 73 4e 61 50 70 59")


def test_firehose_spellings_and_the_old_name() -> None:
    assert [f.value for f in ALL] == ["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"]
    assert Compression is CompressionFormat is TopLevelFormat is TopLevelCompression
    assert Compression("GZIP") is CompressionFormat.GZIP
    assert Compression("UNCOMPRESSED") is CompressionFormat.UNCOMPRESSED
    assert CompressionFormat("snappy") is CompressionFormat("SNAPPY") is CompressionFormat.SNAPPY
    assert CompressionFormat("hadoop_snappy") is CompressionFormat.HADOOP_SNAPPY
    with pytest.raises(ValueError):
        CompressionFormat("ZSTD")


def test_extensions_and_headers_are_firehoses() -> None:
    table = {f: (f.extension, f.content_encoding, f.content_type) for f in ALL}
    octet = "application/octet-stream"
    assert table == {
        CompressionFormat.UNCOMPRESSED: ("", "", octet),
        CompressionFormat.GZIP: (".gz", "gzip", octet),
        CompressionFormat.ZIP: (".zip", "zip", octet),
        CompressionFormat.SNAPPY: (".snappy", "snappy-java", octet),
        CompressionFormat.HADOOP_SNAPPY: (".hsnappy", "hadoop-snappy", octet),
    }


@pytest.mark.parametrize("fmt", ALL)
@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=3000))
def test_round_trip(fmt: CompressionFormat, body: bytes) -> None:
    assert fmt.decompress(fmt.compress(body)) == body


@pytest.mark.parametrize("fmt", ALL)
def test_round_trip_across_blocks_and_deterministic(fmt: CompressionFormat) -> None:
    packed = fmt.compress(BIG)
    assert fmt.decompress(packed) == BIG
    assert fmt.compress(BIG) == packed  # a replay rewrites the same bytes
    assert fmt.compress(BIG + b"!") != packed
    if fmt is not CompressionFormat.UNCOMPRESSED:
        assert len(packed) < len(BIG)


def test_gzip_is_plain_gzip_with_no_timestamp() -> None:
    packed = CompressionFormat.GZIP.compress(b'{"a":1}\n')
    assert packed[:3] == b"\x1f\x8b\x08" and packed[4:8] == b"\0\0\0\0"  # MTIME = 0
    assert gzip.decompress(packed) == b'{"a":1}\n'


def test_zip_is_one_entry_named_by_a_uuid_with_a_fixed_timestamp() -> None:
    packed = CompressionFormat.ZIP.compress(BIG)
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        assert archive.testzip() is None
        (info,) = archive.infolist()
        assert archive.read(info) == BIG
    assert info.compress_type == zipfile.ZIP_DEFLATED
    assert info.date_time == (1980, 1, 1, 0, 0, 0)
    assert str(uuid.UUID(info.filename)) == info.filename
    other = zipfile.ZipFile(io.BytesIO(CompressionFormat.ZIP.compress(b"x"))).namelist()
    assert other != [info.filename]  # the name follows the content


def test_zip_with_two_entries_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a", b"1")
        archive.writestr("b", b"2")
    with pytest.raises(CodecError, match="one zip entry"):
        CompressionFormat.ZIP.decompress(out.getvalue())


def _chunks(data: bytes, pos: int, count: int | None = None) -> tuple[list[bytes], int]:
    """Big-endian length + raw snappy chunk, ``count`` times (or to the end)."""
    out = []
    while pos < len(data) and (count is None or len(out) < count):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        out.append(bytes(cramjam.snappy.decompress_raw(data[pos + 4 : pos + 4 + size])))
        pos += 4 + size
    return out, pos


def test_snappy_is_snappy_java_stream_format() -> None:
    packed = CompressionFormat.SNAPPY.compress(BIG)
    assert packed[:16] == SNAPPY_JAVA_HEADER
    assert not packed.startswith(FRAMED_STREAM_ID)
    blocks, end = _chunks(packed, 16)
    assert end == len(packed)
    assert [len(b) for b in blocks] == [32768, 32768, 32768, len(BIG) - 3 * 32768]
    assert b"".join(blocks) == BIG


def test_snappy_also_reads_googles_framing_format() -> None:
    framed = bytes(cramjam.snappy.compress(BIG))
    assert framed.startswith(FRAMED_STREAM_ID)
    assert CompressionFormat.SNAPPY.decompress(framed) == BIG


def test_hadoop_snappy_is_hadoops_block_format() -> None:
    packed = CompressionFormat.HADOOP_SNAPPY.compress(BIG)
    pos, blocks = 0, []
    while pos < len(packed):
        (uncompressed,) = struct.unpack(">I", packed[pos : pos + 4])
        (chunk,), pos = _chunks(packed, pos + 4, count=1)
        assert len(chunk) == uncompressed
        blocks.append(chunk)
    assert [len(b) for b in blocks] == [32768, 32768, 32768, len(BIG) - 3 * 32768]
    assert b"".join(blocks) == BIG
    assert CompressionFormat.HADOOP_SNAPPY.compress(b"") == b""


def test_hadoop_snappy_reads_several_chunks_per_block() -> None:
    a, b = b"hello " * 50, b"world " * 70
    ca, cb = (bytes(cramjam.snappy.compress_raw(x)) for x in (a, b))
    data = struct.pack(">II", len(a) + len(b), len(ca)) + ca + struct.pack(">I", len(cb)) + cb
    assert CompressionFormat.HADOOP_SNAPPY.decompress(data) == a + b


@pytest.mark.parametrize("fmt", [f for f in ALL if f is not CompressionFormat.UNCOMPRESSED])
@pytest.mark.parametrize("bad", [b"not compressed at all", b"\x00\x00\x00\x09\x00\x00\x00\x05"])
def test_garbage_is_a_codec_error(fmt: CompressionFormat, bad: bytes) -> None:
    with pytest.raises(CodecError):
        fmt.decompress(bad)


@pytest.mark.parametrize("fmt", [CompressionFormat.SNAPPY, CompressionFormat.HADOOP_SNAPPY])
def test_truncated_snappy_is_a_codec_error(fmt: CompressionFormat) -> None:
    with pytest.raises(CodecError, match="truncated"):
        fmt.decompress(fmt.compress(BIG)[:-10])


@pytest.mark.parametrize(
    ("key", "fmt"),
    [
        ("raw/t+0+00000000000000000007.jsonl", CompressionFormat.UNCOMPRESSED),
        ("raw/t+0+00000000000000000007.jsonl.gz", CompressionFormat.GZIP),
        ("raw/t+0+00000000000000000007.jsonl.zip", CompressionFormat.ZIP),
        ("raw/t+0+00000000000000000007.jsonl.snappy", CompressionFormat.SNAPPY),
        ("raw/t+0+00000000000000000007.jsonl.hsnappy", CompressionFormat.HADOOP_SNAPPY),
    ],
)
def test_format_for_key(key: str, fmt: CompressionFormat) -> None:
    assert format_for_key(key) is fmt


# -- the destination --------------------------------------------------------

class FakeClient:
    def __init__(self) -> None:
        self.puts: list[tuple[str, bytes, str, str]] = []

    async def put_object(self, bucket, key, body, *, content_type="", encoding="",
                         metadata=None, if_none_match=False, sse=None):
        self.puts.append((key, body, content_type, encoding))
        return S3Response(200)


BATCH = Batch.of([rec(7, b'{"a":1}', ts=1_700_000_000_000), rec(8, None), rec(9, b'{"a":2}')])


@pytest.mark.parametrize("fmt", ALL)
def test_destination_writes_each_format(fmt: CompressionFormat) -> None:
    client = FakeClient()
    dest = S3Destination(client, "bucket", prefix="raw/", stream="ticks", compression=fmt)  # type: ignore[arg-type]
    request = dest.encode(BATCH)
    assert request.key.endswith("+00000000000000000007.jsonl" + fmt.extension)
    assert format_for_key(request.key) is fmt
    (obj,) = request.objects
    assert fmt.decompress(obj.body) == b'{"a":1}\n{"a":2}\n'
    assert dest.encode(BATCH).objects[0].body == obj.body
    asyncio.run(dest.send(request))
    assert client.puts == [(obj.key, obj.body, fmt.content_type, fmt.content_encoding)]


def test_old_keys_unchanged() -> None:
    def key(fmt: CompressionFormat) -> str:
        dest = S3Destination(FakeClient(), "b", stream="s", compression=fmt)  # type: ignore[arg-type]
        return dest.key_for(BATCH)

    assert key(CompressionFormat.GZIP).endswith(".jsonl.gz")
    assert key(CompressionFormat.UNCOMPRESSED).endswith("00000000000000000007.jsonl")


