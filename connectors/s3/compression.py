"""Firehose's ``CompressionFormat`` for the S3 destination: the codec, the key extension and
the headers of each of ``UNCOMPRESSED | GZIP | ZIP | Snappy | HADOOP_SNAPPY``.

What each format is on the wire (and where that comes from):

============== ========== ================== ==============================================
format         extension  Content-Encoding   bytes
============== ========== ================== ==============================================
UNCOMPRESSED   (none)     (none)             the records as they are
GZIP           ``.gz``    ``gzip``           one gzip member
ZIP            ``.zip``   ``zip``            a zip archive, one deflated entry named by a UUID
Snappy         ``.snappy`` ``snappy-java``   snappy-java's *stream* format (magic
                                             ``82 'SNAPPY' 00``, version 1, compatible 1, then
                                             big-endian length + raw snappy block), **not**
                                             Google's framing format (``ff 06 00 00 sNaPpY``)
HADOOP_SNAPPY  ``.hsnappy`` ``hadoop-snappy`` Hadoop's block format: per block the big-endian
                                             uncompressed length, then big-endian compressed
                                             length + raw snappy chunk
============== ========== ================== ==============================================

- Extensions: the Firehose guide's "Configure Amazon S3 object name format" table (.gz, .zip,
  .snappy, .hsnappy; nothing for UNCOMPRESSED). Floci (floci-io/floci#2328) observed the service
  writing ``.snappy`` for HADOOP_SNAPPY too; Shardline follows the documented ``.hsnappy`` so a
  reader can tell the two Snappy containers apart by key.
- Containers and headers: objects delivered by real Firehose, examined in floci-io/floci#2328
  (Snappy reproduced byte for byte by snappy-java's ``SnappyOutputStream``, HADOOP_SNAPPY by
  ``SnappyHadoopCompatibleOutputStream``; ``Content-Type: application/octet-stream`` for every
  format). AWS does not document the Snappy container; the guide only says the Snappy used
  *inside* record format conversion is Hadoop-compatible.
- Determinism: Shardline rewrites the same key on a replay and detects collisions by content, so
  every format gives the same bytes for the same input: gzip ``mtime=0``; zip entries with a
  fixed 1980-01-01 timestamp and a UUID derived from the content (Firehose's is random); snappy
  blocks of :data:`SNAPPY_BLOCK_BYTES`.

Rules Firehose applies to the choice (enforcing them belongs to the delivery config):

- ``Snappy`` and ``ZIP`` cannot be specified for Amazon Redshift destinations: Redshift's COPY
  cannot read them (API reference, ``CompressionFormat`` of S3DestinationConfiguration/Update).
- With record format conversion (Parquet/ORC; S3 is then the only destination) S3 compression is
  disabled: the serializer compresses inside the file, Parquet with Hadoop-compatible Snappy by
  default ("Enable record format conversion" in the Firehose guide).
- Default UNCOMPRESSED in Firehose; Shardline's config keeps its own default, GZIP.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterable
from enum import StrEnum

import cramjam

from ground.errors import CodecError

__all__ = ["GZIP_LEVEL", "SNAPPY_BLOCK_BYTES", "CompressionFormat", "format_for_key"]

GZIP_LEVEL = 6
# Uncompressed bytes per snappy block: snappy-java's default, and well under Hadoop's 256 KiB
# io.compression.codec.snappy.buffersize, which a Hadoop reader cannot exceed.
SNAPPY_BLOCK_BYTES = 32 * 1024
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry

FRAMED_SNAPPY_MAGIC = b"\xff\x06\x00\x00sNaPpY"
SNAPPY_JAVA_MAGIC = b"\x82SNAPPY\x00"
_SNAPPY_JAVA_HEADER = SNAPPY_JAVA_MAGIC + struct.pack(">ii", 1, 1)
_U32 = struct.Struct(">I")
_SnappyError = cramjam.DecompressionError


class CompressionFormat(StrEnum):
    """Firehose's spellings; lookups also accept any case (``snappy``, ``gzip``)."""

    UNCOMPRESSED = "UNCOMPRESSED"
    GZIP = "GZIP"
    ZIP = "ZIP"
    SNAPPY = "Snappy"
    HADOOP_SNAPPY = "HADOOP_SNAPPY"

    @classmethod
    def _missing_(cls, value: object) -> CompressionFormat | None:
        if isinstance(value, str):
            for member in cls:
                if member.value.casefold() == value.casefold():
                    return member
        return None

    @property
    def extension(self) -> str:
        """The suffix Firehose appends to the object name ("" when uncompressed)."""
        return _EXTENSIONS[self]

    @property
    def content_type(self) -> str:
        return "application/octet-stream"

    @property
    def content_encoding(self) -> str:
        """The ``Content-Encoding`` Firehose sets on the object ("" for none)."""
        return _ENCODINGS[self]

    def compress(self, body: bytes) -> bytes:
        if self is CompressionFormat.GZIP:
            return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        if self is CompressionFormat.ZIP:
            return _zip(body)
        if self is CompressionFormat.SNAPPY:
            return _snappy_java(body)
        if self is CompressionFormat.HADOOP_SNAPPY:
            return _hadoop_snappy(body)
        return body

    def compress_parts(self, parts: Iterable[bytes]) -> bytes:
        """``compress(b"".join(parts))`` — the same bytes — without holding the joined input:
        GZIP streams the parts through one deflate stream (zlib's output does not depend on
        how its input is split), so a 128 MB object never needs a 128 MB uncompressed copy."""
        if self is CompressionFormat.GZIP:
            deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # gzip header, mtime 0
            out = [deflate.compress(part) for part in parts]
            out.append(deflate.flush())
            return b"".join(out)
        return self.compress(b"".join(parts))

    def decompress(self, data: bytes) -> bytes:
        """The original bytes; :class:`~ground.errors.CodecError` if ``data`` is not this
        format. ``Snappy`` also reads Google's framing format."""
        try:
            if self is CompressionFormat.GZIP:
                return gzip.decompress(data)
            if self is CompressionFormat.ZIP:
                return _unzip(data)
            if self is CompressionFormat.SNAPPY:
                if data.startswith(FRAMED_SNAPPY_MAGIC):
                    return bytes(cramjam.snappy.decompress(data))
                return _unsnappy_java(data)
            if self is CompressionFormat.HADOOP_SNAPPY:
                return _unhadoop_snappy(data)
        except CodecError:
            raise
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, _SnappyError) as exc:
            raise CodecError(f"not {self.value} data: {exc}", data[:64]) from exc
        return data


_EXTENSIONS = {
    CompressionFormat.UNCOMPRESSED: "",
    CompressionFormat.GZIP: ".gz",
    CompressionFormat.ZIP: ".zip",
    CompressionFormat.SNAPPY: ".snappy",
    CompressionFormat.HADOOP_SNAPPY: ".hsnappy",
}
_ENCODINGS = {
    CompressionFormat.UNCOMPRESSED: "",
    CompressionFormat.GZIP: "gzip",
    CompressionFormat.ZIP: "zip",
    CompressionFormat.SNAPPY: "snappy-java",
    CompressionFormat.HADOOP_SNAPPY: "hadoop-snappy",
}


def format_for_key(key: str) -> CompressionFormat:
    """The format an object was written with, from its key's extension (UNCOMPRESSED if none)."""
    for fmt in CompressionFormat:
        if fmt.extension and key.endswith(fmt.extension):
            return fmt
    return CompressionFormat.UNCOMPRESSED


def _blocks(body: bytes) -> list[bytes]:
    return [body[i : i + SNAPPY_BLOCK_BYTES] for i in range(0, len(body), SNAPPY_BLOCK_BYTES)]


def _raw(block: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(block))


def _zip(body: bytes) -> bytes:
    # Firehose names the one entry with a random UUID; this one is derived from the content.
    name = str(uuid.UUID(bytes=hashlib.sha256(body).digest()[:16], version=4))
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever the platform, for byte-identical output
    info.external_attr = 0o644 << 16
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(info, body, compresslevel=GZIP_LEVEL)
    return out.getvalue()


def _unzip(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if len(names) != 1:
            raise CodecError(f"expected one zip entry, found {len(names)}", data[:64])
        return archive.read(names[0])


def _snappy_java(body: bytes) -> bytes:
    parts = [_SNAPPY_JAVA_HEADER]
    for block in _blocks(body):
        chunk = _raw(block)
        parts += [_U32.pack(len(chunk)), chunk]
    return b"".join(parts)


def _hadoop_snappy(body: bytes) -> bytes:
    parts: list[bytes] = []
    for block in _blocks(body):
        chunk = _raw(block)
        parts += [_U32.pack(len(block)), _U32.pack(len(chunk)), chunk]
    return b"".join(parts)


def _read_u32(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 4 > len(data):
        raise CodecError(f"truncated length at byte {pos}", data[:64])
    return _U32.unpack_from(data, pos)[0], pos + 4


def _read_chunk(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _read_u32(data, pos)
    if pos + size > len(data):
        raise CodecError(f"truncated snappy chunk at byte {pos}", data[:64])
    return bytes(cramjam.snappy.decompress_raw(data[pos : pos + size])), pos + size


def _unsnappy_java(data: bytes) -> bytes:
    if not data.startswith(SNAPPY_JAVA_MAGIC) or len(data) < len(_SNAPPY_JAVA_HEADER):
        raise CodecError("no snappy-java or snappy framing header", data[:64])
    out, pos = [], len(_SNAPPY_JAVA_HEADER)
    while pos < len(data):
        chunk, pos = _read_chunk(data, pos)
        out.append(chunk)
    return b"".join(out)


def _unhadoop_snappy(data: bytes) -> bytes:
    out, pos = [], 0
    while pos < len(data):
        expected, pos = _read_u32(data, pos)
        got = 0
        while got < expected:
            chunk, pos = _read_chunk(data, pos)
            if not chunk:
                raise CodecError(f"empty hadoop-snappy chunk at byte {pos}", data[:64])
            out.append(chunk)
            got += len(chunk)
        if got != expected:
            raise CodecError(f"hadoop-snappy block of {got} bytes, header says {expected}",
                             data[:64])
    return b"".join(out)
