"""S3/MinIO destination: objects written so that a replay can never duplicate them.

A batch becomes one object per dynamic partition (records grouped by ``Record.partition_keys``,
and for a backup by ``Record.error_output_type``, in order of first appearance; one object when
partitioning is off). Records with a null value (tombstones) are skipped. A
:class:`~connectors.s3.formats.BodyEncoder` makes each object's body and key extension: JSON
Lines in any of Firehose's compression formats (the default), or Parquet
(:mod:`connectors.s3.parquet`). Records the encoder cannot convert are reported to the core as
rejected, with their error-output-type, alongside the objects' outcome; the key and metadata of
an object come from the records actually in it.

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
  end offset (see :mod:`connectors.core.delivery`). A batch's first object is written before
  its others, so looking at that one key answers for the whole batch.
- **Large objects go up in parts** (above ``multipart_threshold``). A failed or cancelled upload
  is aborted; uploads left by a crashed worker are aborted when their partition is assigned
  (:meth:`S3Destination.prepare`).

Classification: 2xx written; throttling, 5xx, timeouts, connection errors and an upload aborted
under us (NoSuchUpload) retried (only the records of the objects that failed); anything else
(403 AccessDenied, 404 NoSuchBucket, 400) permanent. Credentials S3 refuses as such
(InvalidAccessKeyId, SignatureDoesNotMatch, an expired token that will not be refreshed)
stop the delivery with a :class:`CredentialsError`: no record is backed up or committed.

Objects are written with the server-side encryption given (``sse``: SSE-S3 or SSE-KMS),
multipart uploads too; without it the bucket's default encryption applies.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from connectors.core.buffer import MIB
from connectors.core.destination import Destination
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
from connectors.s3.compression import CompressionFormat
from connectors.s3.formats import BodyEncoder, EncodedBody, JsonLinesEncoder
from connectors.s3.keys import object_key
from connectors.s3.prefix import Prefix, compile_prefix
from ground.errors import CredentialsError, KeyCollisionError, RetriableDeliveryError
from ground.faults import faults
from ground.s3 import CREDENTIAL_ERROR_CODES, S3Client, S3Response, ServerSideEncryption

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
# NoSuchUpload: the upload was aborted under us (a lifecycle rule, or a new owner of the
# partition cleaning up after a worker it took for dead); the retry starts a new one.
RETRIABLE_CODES = frozenset({"SlowDown", "InternalError", "RequestTimeout", "ServiceUnavailable",
                             "NoSuchUpload"})
# Temporary credentials that ran out: retried when they refresh themselves, fatal otherwise.
EXPIRED_TOKEN = "ExpiredToken"
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

# What identifies an object's records (for a backup, whose failure documents carry times).
_RECORD_IDENTITY = (META_FIRST_OFFSET, META_LAST_OFFSET, META_RECORDS)

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
    """What ``encode`` makes of a batch: its objects (none when every value was null) and the
    records the encoder could not encode (reported by ``classify``, never sent)."""

    bucket: str
    objects: tuple[S3Object, ...]
    failures: tuple[Rejected, ...] = ()

    @property
    def records(self) -> int:
        return sum(len(o.records) for o in self.objects)

    @property
    def key(self) -> str:
        """The first object's key (the only one without dynamic partitioning)."""
        return self.objects[0].key if self.objects else ""


# The answer for objects of a batch not sent because its first object failed: retried.
_NOT_SENT = S3Response(None, error="NotSent: the batch's first object was not written yet")

# The old name of the request type.
S3PutRequest = S3Write


@dataclass(frozen=True, slots=True)
class _Group:
    first: Batch  # the group's records as a batch
    keys: tuple[tuple[str, str], ...]
    error_output_type: str | None = None


class S3Destination(Destination):
    """Writes batches as objects under ``bucket``/``prefix`` through an :class:`S3Client`.

    ``prefix`` is a Firehose prefix (a ``str`` is compiled as ``Prefix``); a backup destination
    passes its compiled ``ErrorOutputPrefix`` and the ``error_output_type`` it evaluates to
    (a record's own ``error_output_type``, when set, wins). ``encoder`` makes the bodies
    (default: JSON Lines compressed with ``compression``).

    ``same_records_suffice`` is for backups: a failure document records when the attempts
    ended, so a replay's document differs from the first one by its times alone. An existing
    object holding the same records (first and last offset, count) then counts as written.
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
        encoder: BodyEncoder | None = None,
        same_records_suffice: bool | None = None,
        sse: ServerSideEncryption | None = None,
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
        self.encoder: BodyEncoder = encoder or JsonLinesEncoder(compression)
        # Default: a destination of failure documents (one with an error_output_type).
        self.same_records_suffice = (same_records_suffice if same_records_suffice is not None
                                     else error_output_type is not None)
        self.name = name
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.sse = sse
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
        return self.encoder.extension

    def _groups(self, batch: Batch) -> list[_Group]:
        """The batch's records with a value, one group per dynamic partition (and, for a
        backup, per error-output-type)."""
        groups: dict[tuple[tuple[tuple[str, str], ...], str | None], list[Record]] = {}
        for record in batch.records:
            if record.value is not None:
                groups.setdefault((record.partition_keys, record.error_output_type),
                                  []).append(record)
        return [_Group(Batch.of(records), keys, kind)
                for (keys, kind), records in groups.items()]

    def _key(self, group: _Group) -> str:
        return object_key(
            self.prefix, self.stream, group.first, self.extension,
            error_output_type=group.error_output_type or self.error_output_type,
            partition_keys=dict(group.keys) if group.keys else None,
        )

    def _encoded(self, batch: Batch) -> list[tuple[_Group, EncodedBody]]:
        """Each group's body, the group narrowed to the records in it (the object's key comes
        from its first encoded record, so a retry of those records writes the same key);
        groups with nothing encodable have no body and an empty group."""
        out = []
        for group in self._groups(batch):
            encoded = self.encoder.encode(group.first.records)
            if encoded.records:
                group = _Group(Batch.of(encoded.records), group.keys, group.error_output_type)
            out.append((group, encoded))
        return out

    def key_for(self, batch: Batch) -> str:
        """The key of the first object ``batch`` makes ("" when none)."""
        keys = [self._key(g) for g, encoded in self._encoded(batch) if encoded.records]
        return keys[0] if keys else ""

    def body(self, records: Sequence[Record]) -> bytes:
        """One object's bytes (the records the encoder could encode)."""
        return self.encoder.encode(records).body

    def encode(self, batch: Batch) -> S3Write:
        start, end = batch.cut_range
        objects = []
        failures: list[Rejected] = []
        for group, encoded in self._encoded(batch):
            failures.extend(encoded.failures)
            records, body = encoded.records, encoded.body
            if not records:
                continue
            objects.append(S3Object(self._key(group), body, records, {
                META_SHA256: hashlib.sha256(body).hexdigest(),
                META_BATCH_START: str(start),
                META_BATCH_END: str(end),
                META_FIRST_OFFSET: str(records[0].offset),
                META_LAST_OFFSET: str(records[-1].offset),
                META_RECORDS: str(len(records)),
            }))
        return S3Write(self.bucket, tuple(objects), tuple(failures))

    # -- sending --------------------------------------------------------------------------

    async def send(self, request: S3Write) -> list[S3Response]:
        """One answer per object, in order. Raises KeyCollisionError on a collision.

        The first object (the one keyed by the batch's first record with output) is written
        first and alone, the others only once it is there: so whenever any object of a batch
        exists, its first one does, and :meth:`written` needs to look at that key only (a
        crash between two objects of one batch cannot hide the batch from a replay).
        """
        if not request.objects:
            return []
        first, *rest = request.objects
        head = await self._send_one(first)
        if not head.ok:
            return [head] + [_NOT_SENT] * len(rest)
        return [head, *await asyncio.gather(*(self._send_one(o) for o in rest))]

    async def _send_one(self, obj: S3Object) -> S3Response:
        async with self._limit:
            if len(obj.body) >= self.multipart_threshold:
                resp = await self._multipart(obj)
            else:
                resp = await self.client.put_object(
                    self.bucket, obj.key, obj.body,
                    content_type=self.encoder.content_type,
                    encoding=self.encoder.content_encoding,
                    metadata=obj.metadata, if_none_match=True, sse=self.sse,
                )
            if resp.status == 412:
                return await self._already_there(obj)
            return resp

    async def _multipart(self, obj: S3Object) -> S3Response:
        resp, upload_id = await self.client.create_multipart_upload(
            self.bucket, obj.key, content_type=self.encoder.content_type,
            encoding=self.encoder.content_encoding, metadata=obj.metadata, sse=self.sse,
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
        if not same and self.same_records_suffice:
            same = all(head.metadata.get(k) == obj.metadata[k] for k in _RECORD_IDENTITY)
        if same:
            return S3Response(200, headers={"x-shardline-existing": "identical"})
        raise KeyCollisionError(
            f"s3://{self.bucket}/{obj.key} already holds different content (sha256 {theirs},"
            f" ours {obj.sha256}; offsets {obj.metadata[META_FIRST_OFFSET]}.."
            f"{obj.metadata[META_LAST_OFFSET]}). Shardline never overwrites an object: was the"
            " prefix, compression, processing or format changed while records were in flight?"
            " Remove or move the object to deliver these records again. Offsets not committed.",
            destination=self.name,
        )

    def classify(self, batch: Batch, request: S3Write, response: list[S3Response]) -> Outcome:
        # The encoder's failures are reported with this outcome, whatever the objects' fate: a
        # retry re-encodes only the records of the objects that failed, which excludes them.
        retry: list[Record] = []
        rejected: list[Rejected] = list(request.failures)
        reasons: list[str] = []
        for obj, resp in zip(request.objects, response, strict=True):
            if resp.ok:
                continue
            code = resp.error_code
            where = f"PUT s3://{request.bucket}/{obj.key}"
            self._check_credentials(resp, code)
            if code == EXPIRED_TOKEN:  # refreshable: the next attempt signs with new ones
                retry.extend(obj.records)
                reasons.append(f"{where}: {code}: {resp.message}")
            elif resp.status is None or resp.status in RETRIABLE_STATUS or code in RETRIABLE_CODES:
                retry.extend(obj.records)
                reasons.append(f"{where}: {code}: {resp.message}")
            else:
                rejected.extend(
                    Rejected(r, code, resp.message, resp.status) for r in obj.records
                )
                reasons.append(f"{where}: HTTP {resp.status} {code}: {resp.message}")
        if not retry and not rejected:
            return Successful()
        if request.failures:
            first = request.failures[0]
            reasons.append(f"{len(request.failures)} record(s) could not be encoded (first:"
                           f" offset {first.record.offset}: {first.error_message})")
        reason = "; ".join(reasons[:3]) + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3
                                           else "")
        if retry:
            if len(retry) == request.records and not rejected:
                return Retry(reason)
            return RetryPartial(tuple(retry), reason, tuple(rejected))
        return DontRetry(tuple(rejected), reason)

    def _check_credentials(self, resp: S3Response, code: str) -> None:
        """Raise CredentialsError when S3 refused the credentials themselves (a retry, the
        backup — signed with the same ones — and the commit would be no use)."""
        if code not in CREDENTIAL_ERROR_CODES and code != EXPIRED_TOKEN:
            return
        credentials = self.client.credentials
        if code == EXPIRED_TOKEN and credentials.refreshable:
            return  # retried: the next attempt signs with refreshed ones
        raise CredentialsError(
            "S3", f"{self.client.endpoint} refused the credentials ({code}: {resp.message})"
            f" writing to s3://{self.bucket}; offsets not committed",
            setting=credentials.settings)

    # -- replay alignment and recovery ------------------------------------------------------

    async def written(self, batch: Batch) -> Probe:
        """Whether a previous owner already wrote ``batch``'s output: ``Written(start, end)``
        of the batch it cut, ``NotWritten()``, or ``NoOutput()`` when the batch makes no object
        (every value null) and so tells nothing.

        Only the first object's key is looked at (:meth:`send` writes it before the others).
        The batch found may start before ours (its first records had no output and were
        committed alone) or after (ours begin with records without output); it contains our
        first record with output, which is in the object under that key.
        """
        # Keys come from the records the encoder accepts, so ask it (recovery only: the cost of
        # encoding once more is paid for a partition's first batches after an assignment).
        groups = [g for g, encoded in self._encoded(batch) if encoded.records]
        if not groups:
            return NoOutput()
        key = self._key(groups[0])
        head = await self.client.head_object(self.bucket, key)
        if head.status == 404:
            return NotWritten()
        if head.status in (400, 403):  # a HEAD answer has no body: ask what was refused
            listing = await self.client.check_credentials(self.bucket)
            self._check_credentials(listing, listing.error_code)
        if not head.ok:
            raise RetriableDeliveryError(
                f"HEAD s3://{self.bucket}/{key}: {head.error_code}: {head.message}",
                destination=self.name,
            )
        meta = head.metadata
        try:
            start, end = int(meta[META_BATCH_START]), int(meta[META_BATCH_END])
        except (KeyError, ValueError):
            return NotWritten()  # an object from before batch metadata: the write compares
        first = groups[0].first.start_offset
        if not start <= first <= end:
            raise KeyCollisionError(
                f"s3://{self.bucket}/{key} records the batch {start}..{end}, which does not"
                f" hold its first offset {first}: it was not written by this delivery stream's"
                " rules. Remove or move the object to deliver these records again.",
                destination=self.name,
            )
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
