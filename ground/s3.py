"""A minimal S3 client on aiohttp, signed with botocore's SigV4.

Addressing is path-style (``<endpoint>/<bucket>/<key>``, MinIO's) or virtual-hosted
(``<bucket>.<endpoint host>/<key>``, AWS's); ``auto`` picks virtual-hosted for AWS endpoints
and buckets that are valid host names, path-style otherwise. Credentials are
:class:`~ground.aws_credentials.AwsCredentials`: each request is signed with the credentials
current at that moment, so temporary ones are refreshed between requests. Objects may be
written with server-side encryption (:class:`ServerSideEncryption`: SSE-S3 or SSE-KMS).

Shared by the delivery side (``connectors.s3`` re-exports it) and the analytics side
(reference data of SQL applications): PUT/GET/HEAD object (PUT optionally conditional with
``If-None-Match: *`` and with ``x-amz-meta-*`` metadata), multipart uploads (create, upload
part, complete, abort, list incomplete), create/head bucket, list keys.
Transport failures come back as an :class:`S3Response` with ``status=None`` so callers
classify them like any other answer. A GET may cap the body size (``max_bytes``): a larger
object is refused from its ``Content-Length`` before the body is read, with the error code
``EntityTooLarge``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import aiohttp.abc
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError
from yarl import URL

from ground.aws_credentials import AwsCredentials, resolve_credentials
from ground.settings import Settings

__all__ = [
    "CREDENTIAL_ERROR_CODES",
    "ENTITY_TOO_LARGE",
    "META_PREFIX",
    "SSE_S3",
    "MultipartUpload",
    "S3Client",
    "S3Response",
    "ServerSideEncryption",
    "is_aws_endpoint",
    "s3_credentials",
]

DEFAULT_TIMEOUT_MS = 30_000
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
#: ``error_code`` of a GET refused because the object is larger than ``max_bytes``.
ENTITY_TOO_LARGE = "EntityTooLarge"
_CHUNK = 1 << 20
META_PREFIX = "x-amz-meta-"
#: Error codes by which S3 (or STS behind it) refuses the credentials themselves, as opposed
#: to what they may do (AccessDenied). A request signed with them will never succeed.
CREDENTIAL_ERROR_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "InvalidSecurity",
    "InvalidClientTokenId", "AuthorizationHeaderMalformed",
})
#: Bucket names that can be a host name label (virtual-hosted addressing).
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class ServerSideEncryption:
    """How S3 encrypts the objects written: ``AES256`` (SSE-S3, keys S3 manages) or
    ``aws:kms`` (SSE-KMS, with ``kms_key_id``: a KMS key ARN, or MinIO's key name; "" is
    the account's default KMS key)."""

    algorithm: str = "AES256"
    kms_key_id: str = ""

    def __post_init__(self) -> None:
        if self.algorithm not in ("AES256", "aws:kms"):
            raise ValueError(f"AES256 or aws:kms, got {self.algorithm!r}")
        if self.kms_key_id and self.algorithm != "aws:kms":
            raise ValueError("a KMS key goes with aws:kms")

    def headers(self) -> dict[str, str]:
        headers = {"x-amz-server-side-encryption": self.algorithm}
        if self.kms_key_id:
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
        return headers


SSE_S3 = ServerSideEncryption("AES256")


def is_aws_endpoint(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def s3_credentials(settings: Settings) -> AwsCredentials:
    """The S3 credentials the settings describe (static keys by default). With a role, the
    STS endpoint defaults to the S3 endpoint when that is not AWS's (MinIO serves STS)."""
    return resolve_credentials(
        settings.s3_auth, region=settings.s3_region, access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        default_sts_endpoint="" if is_aws_endpoint(settings.s3_endpoint)
        else settings.s3_endpoint,
        ca_bundle=str(settings.s3_ca_bundle) if settings.s3_ca_bundle is not None else None)


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    """An incomplete multipart upload, as ListMultipartUploads names it."""

    key: str
    upload_id: str


@dataclass(frozen=True, slots=True)
class S3Response:
    """An S3 answer. ``status`` is None when no HTTP answer came (``error`` says why)."""

    status: int | None
    body: bytes = b""
    error: str = ""
    headers: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        """The S3 error code (``NoSuchBucket``, ``AccessDenied``, ...) from the XML body."""
        if self.status is None:
            return type(self).__name__ if not self.error else self.error.split(":", 1)[0]
        try:
            root = ET.fromstring(self.body)
        except ET.ParseError:
            return f"HTTP{self.status}"
        code = root.findtext("Code")
        return code or f"HTTP{self.status}"

    @property
    def message(self) -> str:
        if self.status is None:
            return self.error
        try:
            text = ET.fromstring(self.body).findtext("Message")
        except ET.ParseError:
            text = None
        return text or self.body[:200].decode("utf-8", "replace") or f"HTTP {self.status}"

    def header(self, name: str) -> str | None:
        """A response header, whatever its case."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    @property
    def metadata(self) -> dict[str, str]:
        """The object's user metadata (``x-amz-meta-*`` headers), names lower-cased."""
        return {
            k.lower()[len(META_PREFIX):]: v
            for k, v in self.headers.items() if k.lower().startswith(META_PREFIX)
        }


class S3Client:
    """Signs each request with SigV4 (botocore) and sends it with one aiohttp session."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        credentials: AwsCredentials,
        *,
        addressing: str = "auto",
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        if addressing not in ("auto", "path", "virtual"):
            raise ValueError(f"addressing: auto, path or virtual, got {addressing!r}")
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.credentials = credentials
        self.addressing = addressing
        self._timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self._resolver = resolver  # how host names resolve (tests: bucket.host → 127.0.0.1)
        # HTTPS trusting this PEM file instead of the system's CAs (a private CA, e.g. the
        # secured local stack's); verification is never turned off.
        self._ssl = ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else None
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        credentials: AwsCredentials | None = None,
        *,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> S3Client:
        """A client of ``settings``' S3; ``credentials`` shares one set (and its refreshes)
        between clients, resolved from the settings when not given."""
        return cls(settings.s3_endpoint, settings.s3_region,
                   credentials if credentials is not None else s3_credentials(settings),
                   addressing=settings.s3_addressing, timeout_ms=timeout_ms,
                   ca_bundle=settings.s3_ca_bundle)

    def __repr__(self) -> str:  # never show the credentials
        return f"S3Client({self.endpoint!r}, region={self.region!r})"

    def virtual_hosted(self, bucket: str) -> bool:
        """Whether requests to ``bucket`` name it in the host rather than the path."""
        if not bucket or self.addressing == "path":
            return False
        if self.addressing == "virtual":
            return True
        return is_aws_endpoint(self.endpoint) and _DNS_BUCKET.match(bucket) is not None

    def url(self, bucket: str, key: str = "") -> str:
        """The URL of ``bucket``/``key`` (percent-encoded, without a query)."""
        quoted_key = quote(key, safe="/~") if key else ""
        if self.virtual_hosted(bucket):
            parts = urlsplit(self.endpoint)
            return (f"{parts.scheme}://{bucket}.{parts.netloc}{parts.path}/{quoted_key}")
        path = "/" + quote(bucket, safe="") if bucket else ""
        if key:
            path += "/" + quoted_key
        return self.endpoint + (path or "/")

    async def open(self) -> None:
        if self._session is None:
            # An object's bytes as stored: Firehose-style objects carry Content-Encoding: gzip,
            # which aiohttp would otherwise undo on GET (S3 SDKs never do).
            connector = None
            if self._resolver is not None or self._ssl is not None:
                connector = aiohttp.TCPConnector(resolver=self._resolver,
                                                 ssl=self._ssl if self._ssl is not None else True)
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False,
                                                  connector=connector)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> S3Client:
        await self.open()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        bucket: str,
        key: str = "",
        *,
        body: bytes = b"",
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> S3Response:
        """Send one signed request. With ``max_bytes``, a successful answer whose body is
        larger is not read: it comes back with ``status=None`` and ``EntityTooLarge``."""
        url = self.url(bucket, key)
        if query:
            url += "?" + urlencode(sorted(query.items()), quote_via=quote)
        all_headers = dict(headers or {})
        # Bytes as stored: no compressed listings (the session does not decompress, so an
        # object written with Content-Encoding: gzip reads back as its .gz bytes).
        all_headers.setdefault("Accept-Encoding", "identity")
        if body:
            all_headers["Content-MD5"] = _content_md5(body)
        try:
            credentials = await self.credentials.current()
        except BotoCoreError as exc:  # the refresh could not reach its source: transient
            return S3Response(None, error=f"CredentialsUnavailable: {exc}")
        aws = AWSRequest(method=method, url=url, data=body, headers=all_headers)
        S3SigV4Auth(credentials, "s3", self.region).add_auth(aws)
        if self._session is None:
            await self.open()
        assert self._session is not None
        try:
            async with self._session.request(
                method, URL(url, encoded=True), data=body or None, headers=dict(aws.headers.items())
            ) as resp:
                answer_headers = {k: v for k, v in resp.headers.items()}
                if max_bytes is not None and 200 <= resp.status < 300:
                    return await _read_capped(resp, max_bytes, answer_headers)
                return S3Response(resp.status, await resp.read(), headers=answer_headers)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return S3Response(None, error=f"{type(exc).__name__}: {exc}")

    # -- conveniences ----------------------------------------------------------------------

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str = "",
        encoding: str = "",
        metadata: Mapping[str, str] | None = None,
        if_none_match: bool = False,
        sse: ServerSideEncryption | None = None,
    ) -> S3Response:
        """PUT an object. With ``if_none_match``, S3 answers 412 PreconditionFailed instead of
        overwriting an existing key."""
        headers = _object_headers(content_type, encoding, metadata, sse)
        if if_none_match:
            headers["If-None-Match"] = "*"
        return await self.request("PUT", bucket, key, body=body, headers=headers)

    # -- multipart uploads -------------------------------------------------------------------

    async def create_multipart_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str = "",
        encoding: str = "",
        metadata: Mapping[str, str] | None = None,
        sse: ServerSideEncryption | None = None,
    ) -> tuple[S3Response, str]:
        """Start an upload (its parts are encrypted as ``sse`` says); returns the answer and
        its upload id ("" when it failed)."""
        resp = await self.request(
            "POST", bucket, key, query={"uploads": ""},
            headers=_object_headers(content_type, encoding, metadata, sse),
        )
        upload_id = ""
        if resp.ok:
            try:
                upload_id = ET.fromstring(resp.body).findtext(_NS + "UploadId") or ""
            except ET.ParseError:
                upload_id = ""
            if not upload_id:
                resp = S3Response(None, error="MalformedResponse: no UploadId in the answer")
        return resp, upload_id

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, body: bytes
    ) -> S3Response:
        """Upload part ``number`` (1-based); its ETag is ``resp.header("ETag")``."""
        return await self.request(
            "PUT", bucket, key, body=body,
            query={"partNumber": str(number), "uploadId": upload_id},
        )

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        etags: list[str],
        *,
        if_none_match: bool = False,
    ) -> S3Response:
        """Complete with parts 1..n (``etags`` in part order). S3 may answer 200 with an
        ``<Error>`` document: that comes back as a 500 answer with the error's body."""
        headers = {"If-None-Match": "*"} if if_none_match else {}
        resp = await self.request(
            "POST", bucket, key, body=complete_multipart_body(etags),
            query={"uploadId": upload_id}, headers=headers,
        )
        if resp.ok and _is_error_document(resp.body):
            return S3Response(500, resp.body, headers=resp.headers)
        return resp

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> S3Response:
        return await self.request("DELETE", bucket, key, query={"uploadId": upload_id})

    async def list_multipart_uploads(self, bucket: str, prefix: str = "") -> list[MultipartUpload]:
        """Every incomplete upload under ``prefix`` (following the markers)."""
        uploads: list[MultipartUpload] = []
        markers: dict[str, str] = {}
        while True:
            query = {"uploads": "", "prefix": prefix, **markers}
            resp = await self.request("GET", bucket, query=query)
            if not resp.ok:
                raise OSError(f"list uploads {bucket}/{prefix}: {resp.error_code}: {resp.message}")
            root = ET.fromstring(resp.body)
            for upload in root.iter(_NS + "Upload"):
                uploads.append(MultipartUpload(
                    upload.findtext(_NS + "Key") or "", upload.findtext(_NS + "UploadId") or ""
                ))
            if root.findtext(_NS + "IsTruncated") != "true":
                return uploads
            markers = {
                "key-marker": root.findtext(_NS + "NextKeyMarker") or "",
                "upload-id-marker": root.findtext(_NS + "NextUploadIdMarker") or "",
            }

    async def get_object(
        self, bucket: str, key: str, *, max_bytes: int | None = None
    ) -> S3Response:
        return await self.request("GET", bucket, key, max_bytes=max_bytes)

    async def head_object(self, bucket: str, key: str) -> S3Response:
        return await self.request("HEAD", bucket, key)

    async def head_bucket(self, bucket: str) -> S3Response:
        return await self.request("HEAD", bucket)

    async def create_bucket(self, bucket: str) -> S3Response:
        body = b""
        if is_aws_endpoint(self.endpoint) and self.region != "us-east-1":
            # AWS creates a bucket in us-east-1 unless told otherwise (and refuses a
            # regional endpoint's request without the constraint).
            body = ("<CreateBucketConfiguration><LocationConstraint>" + self.region +
                    "</LocationConstraint></CreateBucketConfiguration>").encode()
        return await self.request("PUT", bucket, body=body)

    async def check_credentials(self, bucket: str) -> S3Response:
        """A bucket listing of at most one key: unlike HEAD (which has no body), its
        refusal says why (``InvalidAccessKeyId``, ``SignatureDoesNotMatch``,
        ``AccessDenied``, ...)."""
        return await self.request("GET", bucket, query={"list-type": "2", "max-keys": "1"})

    async def ensure_bucket(self, bucket: str) -> S3Response:
        """Create ``bucket`` unless it exists. Returns the last answer (ok if it exists now)."""
        head = await self.head_bucket(bucket)
        if head.ok or head.status != 404:
            return head
        created = await self.create_bucket(bucket)
        if created.status == 409:  # BucketAlreadyOwnedByYou: created meanwhile
            return await self.head_bucket(bucket)
        return created

    async def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """All keys under ``prefix`` (ListObjectsV2, following continuation tokens)."""
        keys: list[str] = []
        token = ""
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            resp = await self.request("GET", bucket, query=query)
            if not resp.ok:
                raise OSError(f"list {bucket}/{prefix}: {resp.error_code}: {resp.message}")
            root = ET.fromstring(resp.body)
            keys.extend(k.text or "" for k in root.iter(_NS + "Key"))
            if root.findtext(_NS + "IsTruncated") != "true":
                return keys
            token = root.findtext(_NS + "NextContinuationToken") or ""


async def _read_capped(
    resp: aiohttp.ClientResponse, max_bytes: int, headers: dict[str, str]
) -> S3Response:
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        return S3Response(None, error=_too_large(declared, max_bytes), headers=headers)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            return S3Response(None, error=_too_large(size, max_bytes), headers=headers)
        chunks.append(chunk)
    return S3Response(resp.status, b"".join(chunks), headers=headers)


def _too_large(size: int, limit: int) -> str:
    return f"{ENTITY_TOO_LARGE}: the object has {size} bytes or more, over the limit of {limit}"


def _object_headers(
    content_type: str,
    encoding: str,
    metadata: Mapping[str, str] | None,
    sse: ServerSideEncryption | None = None,
) -> dict[str, str]:
    headers = sse.headers() if sse is not None else {}
    if content_type:
        headers["Content-Type"] = content_type
    if encoding:
        headers["Content-Encoding"] = encoding
    for name, value in (metadata or {}).items():
        headers[META_PREFIX + name] = value
    return headers


def complete_multipart_body(etags: list[str]) -> bytes:
    """The CompleteMultipartUpload XML for parts 1..n."""
    root = ET.Element("CompleteMultipartUpload")
    for number, etag in enumerate(etags, 1):
        part = ET.SubElement(root, "Part")
        ET.SubElement(part, "PartNumber").text = str(number)
        ET.SubElement(part, "ETag").text = etag
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _is_error_document(body: bytes) -> bool:
    try:
        return ET.fromstring(body).tag == "Error"
    except ET.ParseError:
        return False


def _content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")
