"""S3/MinIO destination: one JSON Lines object per batch, in any of Firehose's compression
formats (:mod:`connectors.s3.compression`).

Each record's value is written as it is (records are JSON objects already) followed by a
newline; records with a null value (tombstones) are skipped. Keys end in ``.jsonl`` plus
Firehose's extension for the format (``.jsonl.gz``, ``.jsonl.zip``, ``.jsonl.snappy``,
``.jsonl.hsnappy``); objects carry Firehose's Content-Type and Content-Encoding.

Classification: 2xx written; throttling, 5xx, timeouts and connection errors retried;
anything else (403 AccessDenied, 404 NoSuchBucket, 400) permanent.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.core.outcome import DontRetry, Outcome, Retry, Successful
from connectors.core.records import Batch, Rejected
from connectors.s3.client import S3Client, S3Response
from connectors.s3.compression import CompressionFormat
from connectors.s3.keys import object_key
from connectors.s3.prefix import Prefix, compile_prefix

__all__ = ["Compression", "S3Destination", "S3PutRequest"]

RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
RETRIABLE_CODES = frozenset({"SlowDown", "InternalError", "RequestTimeout", "ServiceUnavailable"})
JSON_LINES = ".jsonl"

# The old name: configs and code written for UNCOMPRESSED/GZIP keep working unchanged.
Compression = CompressionFormat


@dataclass(frozen=True, slots=True)
class S3PutRequest:
    bucket: str
    key: str
    body: bytes
    records: int


_SKIPPED = S3Response(204)


class S3Destination:
    """Writes batches as objects under ``bucket``/``prefix`` through an :class:`S3Client`.

    ``prefix`` is a Firehose prefix (a ``str`` is compiled as ``Prefix``); a backup destination
    passes its compiled ``ErrorOutputPrefix`` and the ``error_output_type`` it evaluates to.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        prefix: str | Prefix = "",
        stream: str,
        error_output_type: str | None = None,
        compression: Compression = Compression.GZIP,
        name: str = "s3",
    ) -> None:
        self.client = client
        self.bucket = bucket
        # Compiled here, so a bad expression fails at start-up, not at the first delivery.
        self.prefix = compile_prefix(prefix) if isinstance(prefix, str) else prefix
        self.error_output_type = error_output_type
        self.stream = stream
        self.compression = compression
        self.name = name

    def __repr__(self) -> str:
        return f"S3Destination({self.bucket!r}, prefix={self.prefix.text!r})"

    async def open(self) -> None:
        await self.client.open()

    async def close(self) -> None:
        await self.client.close()

    def key_for(self, batch: Batch) -> str:
        return object_key(
            self.prefix, self.stream, batch, JSON_LINES + self.compression.extension,
            error_output_type=self.error_output_type,
        )

    def encode(self, batch: Batch) -> S3PutRequest:
        lines = [r.value + b"\n" for r in batch.records if r.value is not None]
        body = b"".join(lines)
        if lines:
            body = self.compression.compress(body)
        return S3PutRequest(self.bucket, self.key_for(batch), body, len(lines))

    async def send(self, request: S3PutRequest) -> S3Response:
        if request.records == 0:
            return _SKIPPED
        return await self.client.put_object(
            request.bucket,
            request.key,
            request.body,
            content_type=self.compression.content_type,
            encoding=self.compression.content_encoding,
        )

    def classify(self, batch: Batch, request: S3PutRequest, response: S3Response) -> Outcome:
        if response.ok:
            return Successful()
        code = response.error_code
        where = f"PUT s3://{request.bucket}/{request.key}"
        if (
            response.status is None
            or response.status in RETRIABLE_STATUS
            or code in RETRIABLE_CODES
        ):
            return Retry(f"{where}: {code}: {response.message}")
        return DontRetry(
            tuple(Rejected(r, code, response.message) for r in batch.records),
            f"{where}: HTTP {response.status} {code}: {response.message}",
        )
