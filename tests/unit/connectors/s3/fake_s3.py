"""An in-memory S3 speaking :class:`ground.s3.S3Client`'s calls (the seam the destination
uses), with S3's rules for conditional writes and multipart uploads; failures can be scripted."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from ground.aws_credentials import AwsCredentials
from ground.s3 import META_PREFIX, MultipartUpload, S3Response, ServerSideEncryption
from ground.secret import Secret

__all__ = ["FakeS3", "StoredObject"]

PRECONDITION_FAILED = (b"<Error><Code>PreconditionFailed</Code>"
                       b"<Message>At least one of the pre-conditions you specified did not hold"
                       b"</Message></Error>")
NO_SUCH_UPLOAD = b"<Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>"


@dataclass
class StoredObject:
    body: bytes
    metadata: dict[str, str]
    etag: str
    sse: ServerSideEncryption | None = None


@dataclass
class _Upload:
    key: str
    metadata: dict[str, str]
    sse: ServerSideEncryption | None
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass
class FakeS3:
    objects: dict[str, StoredObject] = field(default_factory=dict)
    uploads: dict[str, _Upload] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, key), in order
    # operation name → answer to give instead (once per entry; None: behave normally)
    fail: dict[str, list[S3Response | None]] = field(default_factory=dict)
    # awaited before each UploadPart (a test parks an upload there to cancel it)
    before_part: Callable[[], Awaitable[None]] | None = None
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    endpoint: str = "http://fake-s3"
    credentials: AwsCredentials = field(
        default_factory=lambda: AwsCredentials.static(Secret("k"), Secret("secret-key")))

    def _scripted(self, op: str, key: str) -> S3Response | None:
        self.calls.append((op, key))
        queue = self.fail.get(op)
        return queue.pop(0) if queue else None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _store(self, key: str, body: bytes, metadata: Mapping[str, str], etag: str,
               if_none_match: bool, sse: ServerSideEncryption | None = None) -> S3Response:
        if if_none_match and key in self.objects:
            return S3Response(412, PRECONDITION_FAILED)
        self.objects[key] = StoredObject(body, dict(metadata), etag, sse)
        return S3Response(200, headers={"ETag": f'"{etag}"'})

    async def put_object(self, bucket: str, key: str, body: bytes, *, content_type: str = "",
                         encoding: str = "", metadata: Mapping[str, str] | None = None,
                         if_none_match: bool = False,
                         sse: ServerSideEncryption | None = None) -> S3Response:
        await asyncio.sleep(0)
        scripted = self._scripted("PutObject", key)
        if scripted is not None:
            return scripted
        return self._store(key, body, metadata or {}, hashlib.md5(body).hexdigest(),
                           if_none_match, sse)

    async def check_credentials(self, bucket: str) -> S3Response:
        scripted = self._scripted("ListObjectsV2", "")
        return scripted if scripted is not None else S3Response(200)

    async def head_object(self, bucket: str, key: str) -> S3Response:
        scripted = self._scripted("HeadObject", key)
        if scripted is not None:
            return scripted
        obj = self.objects.get(key)
        if obj is None:
            return S3Response(404)
        headers = {META_PREFIX + k: v for k, v in obj.metadata.items()}
        headers["ETag"] = f'"{obj.etag}"'
        return S3Response(200, headers=headers)

    async def create_multipart_upload(self, bucket: str, key: str, *, content_type: str = "",
                                      encoding: str = "",
                                      metadata: Mapping[str, str] | None = None,
                                      sse: ServerSideEncryption | None = None,
                                      ) -> tuple[S3Response, str]:
        scripted = self._scripted("CreateMultipartUpload", key)
        if scripted is not None:
            return scripted, ""
        upload_id = f"up{next(self._ids)}"
        self.uploads[upload_id] = _Upload(key, dict(metadata or {}), sse)
        return S3Response(200), upload_id

    async def upload_part(self, bucket: str, key: str, upload_id: str, number: int,
                          body: bytes) -> S3Response:
        if self.before_part is not None:
            await self.before_part()
        scripted = self._scripted("UploadPart", key)
        if scripted is not None:
            return scripted
        upload = self.uploads.get(upload_id)
        if upload is None or upload.key != key:
            return S3Response(404, NO_SUCH_UPLOAD)
        upload.parts[number] = body
        return S3Response(200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})

    async def complete_multipart_upload(self, bucket: str, key: str, upload_id: str,
                                        etags: list[str], *, if_none_match: bool = False
                                        ) -> S3Response:
        scripted = self._scripted("CompleteMultipartUpload", key)
        if scripted is not None:
            return scripted
        upload = self.uploads.get(upload_id)
        if upload is None or upload.key != key:
            return S3Response(404, NO_SUCH_UPLOAD)
        parts = [upload.parts[n] for n in range(1, len(etags) + 1)]
        assert [f'"{hashlib.md5(p).hexdigest()}"' for p in parts] == etags
        body = b"".join(parts)
        resp = self._store(key, body, upload.metadata, f"multipart-{len(parts)}", if_none_match,
                           upload.sse)
        if resp.ok:  # a failed complete leaves the upload in place, as S3 does
            del self.uploads[upload_id]
        return resp

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str
                                     ) -> S3Response:
        scripted = self._scripted("AbortMultipartUpload", key)
        if scripted is not None:
            return scripted
        upload = self.uploads.pop(upload_id, None)
        return S3Response(204 if upload is not None else 404)

    async def list_multipart_uploads(self, bucket: str, prefix: str = ""
                                     ) -> list[MultipartUpload]:
        self.calls.append(("ListMultipartUploads", prefix))
        return [MultipartUpload(u.key, i) for i, u in self.uploads.items()
                if u.key.startswith(prefix)]
