"""What the S3 destination writes as one object's body: the :class:`BodyEncoder` contract and
its JSON Lines implementation (the Parquet one is :class:`connectors.s3.parquet.ParquetEncoder`).

An encoder turns the records of one object into bytes and says which records the bytes hold;
records it cannot encode (a JSON record that does not fit the Parquet schema) come back as
:class:`~connectors.core.records.Rejected` with ``error_output_type`` set, and the destination
reports them to the core, which writes them under the error prefix. The other records of the
object are written. Encoders are pure and deterministic: the same records give the same bytes,
because a replay rewrites the same key and the destination compares content hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from connectors.core.records import Record, Rejected
from connectors.s3.compression import CompressionFormat

__all__ = [
    "FORMAT_CONVERSION_FAILED",
    "JSON_LINES_EXTENSION",
    "BodyEncoder",
    "EncodedBody",
    "JsonLinesEncoder",
]

#: What ``!{firehose:error-output-type}`` evaluates to for a record conversion could not handle.
FORMAT_CONVERSION_FAILED = "format-conversion-failed"
JSON_LINES_EXTENSION = ".jsonl"


@dataclass(frozen=True, slots=True)
class EncodedBody:
    """One object's bytes, the records in them (in order) and those that could not be encoded."""

    body: bytes
    records: tuple[Record, ...]
    failures: tuple[Rejected, ...] = ()


@runtime_checkable
class BodyEncoder(Protocol):
    """Encodes the records of one object (each with a non-null value)."""

    @property
    def extension(self) -> str:
        """Appended to the object key (``.jsonl.gz``, ``.parquet``)."""
        ...

    @property
    def content_type(self) -> str: ...

    @property
    def content_encoding(self) -> str:
        """The object's ``Content-Encoding`` ("" for none)."""
        ...

    def encode(self, records: Sequence[Record]) -> EncodedBody: ...


BODY_SLICE = 8192  # records joined at a time into an object's body before compressing


@dataclass(frozen=True, slots=True)
class JsonLinesEncoder:
    """Each value as it is followed by a newline, then Firehose's ``CompressionFormat``."""

    compression: CompressionFormat = CompressionFormat.GZIP

    @property
    def extension(self) -> str:
        return JSON_LINES_EXTENSION + self.compression.extension

    @property
    def content_type(self) -> str:
        return self.compression.content_type

    @property
    def content_encoding(self) -> str:
        return self.compression.content_encoding

    def encode(self, records: Sequence[Record]) -> EncodedBody:
        # Joined and compressed in slices of BODY_SLICE records: the uncompressed object is
        # never held whole (GZIP streams; the bytes equal compress(b"".join(lines))).
        body = self.compression.compress_parts(
            b"\n".join([r.value for r in records[i:i + BODY_SLICE]]) + b"\n"  # type: ignore[misc]
            for i in range(0, len(records), BODY_SLICE)
        )
        return EncodedBody(body, tuple(records))
