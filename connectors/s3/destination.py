"""S3/MinIO destination: JSON Lines objects in any of Firehose's compression formats
(:mod:`connectors.s3.compression`), written so that a replay can never duplicate them.

A batch becomes one object per dynamic partition (records grouped by ``Record.partition_keys``,
in order of first appearance; one object when partitioning is off). Each record's value is
written as it is followed by a newline; records with a null value (tombstones) are skipped.

Exactly once, object by object:

- **Keys come from the content**: topic, partition and the first source offset in the object,
  with the prefix evaluated from that object's first record (:mod:`connectors.s3.keys`). They do
  not depend on where the batch was cut, so a replay that starts at the same record writes the
  same key.
- **Writes are conditional** (``If-None-Match: *``). When the key exists, its ``content-sha256``
  metadata is compared with ours: equal means a previous attempt already wrote it (success);
  different means a collision, refused with :class:`KeyCollisionError` — never overwritten.
- **Every object records the batch it was cut from** (``batch-start``/``batch-end``). After a
  partition is reassigned, the core asks :meth:`S3Destination.written` whether a previous owner
  wrote objects for the batch it is about to send and, if so, re-cuts its batch at the same
  end offset (see :mod:`connectors.core.delivery`).
- **Large objects go up in parts** (above ``multipart_threshold``). A failed or cancelled upload
  is aborted; uploads left by a crashed worker are aborted when their partition is assigned
  (:meth:`S3Destination.prepare`).

Classification: 2xx written; throttling, 5xx, timeouts and connection errors retried (only the
records of the objects that failed); anything else (403 AccessDenied, 404 NoSuchBucket, 400)
permanent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from connectors.core.failures import ERROR_OUTPUT_TYPE_KEY
from connectors.core.outcome import (
    DontRetry,
    NoOutput,
    NotWritten,
    Outcome,
    Probe,
    Retry,
    RetryPartial,
    Successful,
    Written,
)
from connectors.core.records import Batch, Record, Rejected
from connectors.s3.client import S3Client, S3Response
from connectors.s3.compression import CompressionFormat
from connectors.s3.keys import object_key
from connectors.s3.prefix import Prefix, compile_prefix
from shardline.errors import KeyCollisionError, RetriableDeliveryError
from shardline.faults import faults

__all__ = [
    "DEFAULT_MULTIPART_THRESHOLD",
    "MULTIPART_PART_SIZE",
    "Compression",
    "S3Destination",
    "S3Object",
    "S3PutRequest",
    "S3Write",
]

log = logging.getLogger(__name__)

RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
RETRIABLE_CODES = frozenset({"SlowDown", "InternalError", "RequestTimeout", "ServiceUnavailable"})
JSON_LINES = ".jsonl"
MIB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 16 * MIB
MIN_MULTIPART_THRESHOLD = 5 * MIB  # S3's smallest part (all but the last)
MULTIPART_PART_SIZE = 8 * MIB
MAX_CONCURRENT_OBJECTS = 16  # PUTs in flight for one batch (many dynamic partitions)

# Object metadata (x-amz-meta-…): what a replay and a collision check read back.
META_SHA256 = "content-sha256"
META_BATCH_START = "batch-start"
META_BATCH_END = "batch-end"
META_FIRST_OFFSET = "first-offset"
META_LAST_OFFSET = "last-offset"
META_RECORDS = "records"

# The old name: configs and code written for UNCOMPRESSED/GZIP keep working unchanged.
Compression = CompressionFormat


@dataclass(frozen=True, slots=True)
class S3Object:
    """One object to write: its key, body, the records in it and its metadata."""

    key: str
    body: bytes
    records: tuple[Record, ...]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return self.metadata[META_SHA256]


@dataclass(frozen=True, slots=True)
class S3Write:
    """What ``encode`` makes of a batch: its objects (none when every value was null)."""

    bucket: str
    objects: tuple[S3Object, ...]

    @property
    def records(self) -> int:
        return sum(len(o.records) for o in self.objects)

    @property
    def key(self) -> str:
        """The first object's key (the only one without dynamic partitioning)."""
        return self.objects[0].key if self.objects else ""


# The old name of the request type.
S3PutRequest = S3Write


@dataclass(frozen=True, slots=True)
class _Group:
    first: Batch  # the object's records as a batch: its key comes from its first record
    keys: tuple[tuple[str, str], ...]


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
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = MULTIPART_PART_SIZE,
    ) -> None:
        if multipart_threshold < MIN_MULTIPART_THRESHOLD or part_size < MIN_MULTIPART_THRESHOLD:
            raise ValueError("multipart threshold and part size must be at least 5 MiB")
        self.client = client
        self.bucket = bucket
        # Compiled here, so a bad expression fails at start-up, not at the first delivery.
        self.prefix = compile_prefix(prefix) if isinstance(prefix, str) else prefix
        self.error_output_type = error_output_type
        self.stream = stream
        self.compression = compression
        self.name = name
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_OBJECTS)

    def __repr__(self) -> str:
        return f"S3Destination({self.bucket!r}, prefix={self.prefix.text!r})"

    async def open(self) -> None:
        await self.client.open()

    async def close(self) -> None:
        await self.client.close()

    # -- keys and bodies ------------------------------------------------------------------

    @property
    def extension(self) -> str:
        return JSON_LINES + self.compression.extension

    def _groups(self, batch: Batch) -> list[_Group]:
        """The batch's records with a value, one group per dynamic partition."""
        groups: dict[tuple[tuple[str, str], ...], list[Record]] = {}
        for record in batch.records:
            if record.value is not None:
                groups.setdefault(record.partition_keys, []).append(record)
        return [_Group(Batch.of(records), keys) for keys, records in groups.items()]

    def _key(self, group: _Group) -> str:
        keys = dict(group.keys)
        # A failure's own error-output-type (set by the core's backup) wins over ours.
        error_output_type = keys.pop(ERROR_OUTPUT_TYPE_KEY, None) or self.error_output_type
        return object_key(
            self.prefix, self.stream, group.first, self.extension,
            error_output_type=error_output_type,
            partition_keys=keys or None,
        )

    def key_for(self, batch: Batch) -> str:
        """The key of the object holding ``batch``'s first record with a value."""
        groups = self._groups(batch)
        return self._key(groups[0]) if groups else ""

    def body(self, records: Sequence[Record]) -> bytes:
        """One object's bytes: JSON Lines, compressed."""
        return self.compression.compress(b"".join(r.value + b"\n" for r in records))  # type: ignore[operator]

    def encode(self, batch: Batch) -> S3Write:
        start, end = batch.cut_range
        objects = []
        for group in self._groups(batch):
            records = group.first.records
            body = self.body(records)
            objects.append(S3Object(self._key(group), body, records, {
                META_SHA256: hashlib.sha256(body).hexdigest(),
                META_BATCH_START: str(start),
                META_BATCH_END: str(end),
                META_FIRST_OFFSET: str(records[0].offset),
                META_LAST_OFFSET: str(records[-1].offset),
                META_RECORDS: str(len(records)),
            }))
        return S3Write(self.bucket, tuple(objects))

    # -- sending --------------------------------------------------------------------------

    async def send(self, request: S3Write) -> list[S3Response]:
        """One answer per object, in order. Raises KeyCollisionError on a collision."""
        return list(await asyncio.gather(*(self._send_one(o) for o in request.objects)))

    async def _send_one(self, obj: S3Object) -> S3Response:
        async with self._limit:
            if len(obj.body) >= self.multipart_threshold:
                resp = await self._multipart(obj)
            else:
                resp = await self.client.put_object(
                    self.bucket, obj.key, obj.body,
                    content_type=self.compression.content_type,
                    encoding=self.compression.content_encoding,
                    metadata=obj.metadata, if_none_match=True,
                )
            if resp.status == 412:
                return await self._already_there(obj)
            return resp

    async def _multipart(self, obj: S3Object) -> S3Response:
        resp, upload_id = await self.client.create_multipart_upload(
            self.bucket, obj.key, content_type=self.compression.content_type,
            encoding=self.compression.content_encoding, metadata=obj.metadata,
        )
        if not upload_id:
            return resp
        completed = False
        try:
            etags: list[str] = []
            for number, at in enumerate(range(0, len(obj.body), self.part_size), 1):
                if faults.part_delay_ms:  # fault tests: a crash in the middle of an upload
                    await asyncio.sleep(faults.part_delay_ms / 1000)
                part = await self.client.upload_part(
                    self.bucket, obj.key, upload_id, number, obj.body[at:at + self.part_size]
                )
                etag = part.header("ETag")
                if not part.ok or not etag:
                    return part if not part.ok else S3Response(
                        None, error="MalformedResponse: UploadPart answered no ETag")
                etags.append(etag)
            resp = await self.client.complete_multipart_upload(
                self.bucket, obj.key, upload_id, etags, if_none_match=True
            )
            completed = resp.ok
            return resp
        finally:
            if not completed:
                # Shielded: a cancelled flush (SIGTERM) must not leave the parts behind.
                await asyncio.shield(self._abort(obj.key, upload_id))

    async def _abort(self, key: str, upload_id: str) -> None:
        resp = await self.client.abort_multipart_upload(self.bucket, key, upload_id)
        if not resp.ok and resp.status != 404:
            log.warning("%s: could not abort the upload of %s (%s); an S3 lifecycle rule "
                        "(AbortIncompleteMultipartUpload) or the next assignment removes it",
                        self.name, key, resp.error_code)

    async def _already_there(self, obj: S3Object) -> S3Response:
        """The key exists: success if it holds our bytes, a collision otherwise."""
        head = await self.client.head_object(self.bucket, obj.key)
        if head.status == 404:  # deleted since the 412: write again
            return S3Response(None, error="PreconditionFailed: the key vanished after a 412")
        if not head.ok:
            return head  # classified (retried) like any failed write
        theirs = head.metadata.get(META_SHA256)
        if theirs is None:  # written without our metadata: a plain PUT's ETag is its MD5
            etag = (head.header("ETag") or "").strip('"')
            same = etag == hashlib.md5(obj.body).hexdigest()
            theirs = f"(no content-sha256; ETag {etag})"
        else:
            same = theirs == obj.sha256
        if same:
            return S3Response(200, headers={"x-shardline-existing": "identical"})
        if self.error_output_type is not None and all(
            head.metadata.get(m) == obj.metadata[m]
            for m in (META_FIRST_OFFSET, META_LAST_OFFSET, META_RECORDS)
        ):
            # A backup of failure documents: a replay describes the same records, but
            # attemptEndingTimestamp (and a hook's error text) differ. Already backed up.
            return S3Response(200, headers={"x-shardline-existing": "same-records"})
        raise KeyCollisionError(
            f"s3://{self.bucket}/{obj.key} already holds different content (sha256 {theirs},"
            f" ours {obj.sha256}; offsets {obj.metadata[META_FIRST_OFFSET]}.."
            f"{obj.metadata[META_LAST_OFFSET]}). Shardline never overwrites an object: was the"
            " prefix, compression, processing or format changed while records were in flight?"
            " Remove or move the object to deliver these records again. Offsets not committed.",
            destination=self.name,
        )

    def classify(self, batch: Batch, request: S3Write, response: list[S3Response]) -> Outcome:
        retry: list[Record] = []
        rejected: list[Rejected] = []
        reasons: list[str] = []
        for obj, resp in zip(request.objects, response, strict=True):
            if resp.ok:
                continue
            code = resp.error_code
            where = f"PUT s3://{request.bucket}/{obj.key}"
            if resp.status is None or resp.status in RETRIABLE_STATUS or code in RETRIABLE_CODES:
                retry.extend(obj.records)
                reasons.append(f"{where}: {code}: {resp.message}")
            else:
                rejected.extend(
                    Rejected(r, code, resp.message, resp.status) for r in obj.records
                )
                reasons.append(f"{where}: HTTP {resp.status} {code}: {resp.message}")
        if not retry and not rejected:
            return Successful()
        reason = "; ".join(reasons[:3]) + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3
                                           else "")
        if retry:
            if len(retry) == request.records and not rejected:
                return Retry(reason)
            return RetryPartial(tuple(retry), reason, tuple(rejected))
        return DontRetry(tuple(rejected), reason)

    # -- replay alignment and recovery ------------------------------------------------------

    async def written(self, batch: Batch) -> Probe:
        """Whether a previous owner already wrote objects for ``batch`` (same first records):
        ``Written(start, end)`` of the batch it cut, ``NotWritten()``, or ``NoOutput()`` when
        the batch makes no object (every value null) and so tells nothing."""
        groups = self._groups(batch)
        if not groups:
            return NoOutput()
        heads = await asyncio.gather(
            *(self.client.head_object(self.bucket, self._key(g)) for g in groups)
        )
        found: set[tuple[int, int]] = set()
        for group, head in zip(groups, heads, strict=True):
            if head.status == 404:
                continue
            if not head.ok:
                raise RetriableDeliveryError(
                    f"HEAD s3://{self.bucket}/{self._key(group)}: {head.error_code}:"
                    f" {head.message}", destination=self.name,
                )
            meta = head.metadata
            try:
                found.add((int(meta[META_BATCH_START]), int(meta[META_BATCH_END])))
            except (KeyError, ValueError):
                continue  # an object from before batch metadata: the write compares content
        if not found:
            return NotWritten()
        if len(found) > 1:
            raise KeyCollisionError(
                f"the objects of {batch.topic}[{batch.partition}] from offset"
                f" {batch.start_offset} were cut from different batches {sorted(found)}",
                destination=self.name,
            )
        start, end = found.pop()
        return Written(start, end)

    def owns(self, key: str, partitions: Iterable[tuple[str, int]]) -> bool:
        name = key.rsplit("/", 1)[-1]
        return any(name.startswith(f"{self.stream}-{t}+{p}+") for t, p in partitions)

    async def prepare(self, partitions: Sequence[tuple[str, int]]) -> int:
        """Abort the incomplete uploads this stream left for ``partitions`` (a crash
        mid-upload); returns how many. Other partitions' uploads are someone else's."""
        if not partitions:
            return 0
        try:
            uploads = await self.client.list_multipart_uploads(self.bucket)
        except OSError as exc:
            log.warning("%s: cannot list incomplete uploads: %s", self.name, exc)
            return 0
        mine = [u for u in uploads if self.owns(u.key, partitions)]
        for upload in mine:
            log.info("%s: aborting an incomplete upload of %s", self.name, upload.key)
            await self._abort(upload.key, upload.upload_id)
        return len(mine)
