"""S3Client's calls: the requests it builds (multipart, conditional, encrypted; path-style or
virtual-hosted; signed with the credentials current at each request, their signatures checked
independently by :mod:`tests.sigv4`) and how it reads the answers, against a scripted aiohttp
server on 127.0.0.1 (no MinIO needed)."""

from __future__ import annotations

import asyncio
import datetime
import socket
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import aiohttp.abc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from botocore.credentials import RefreshableCredentials

from ground.aws_credentials import AwsCredentials
from ground.s3 import (
    SSE_S3,
    MultipartUpload,
    S3Client,
    S3Response,
    ServerSideEncryption,
    complete_multipart_body,
)
from ground.settings import Secret
from tests.sigv4 import verify_sigv4

T = TypeVar("T")
NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""
    raw_query: str = ""

    def verify(self, secret: str = "secret") -> Any:
        """Check the request's SigV4 signature independently; returns what it claims."""
        return verify_sigv4(self.method, self.raw_path, self.raw_query, self.headers,
                            self.body, secret)


@dataclass
class Script:
    answers: list[web.Response] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.method, request.path, dict(request.query),
                              {k.lower(): v for k, v in request.headers.items()},
                              await request.read(), request.rel_url.raw_path,
                              request.rel_url.raw_query_string))
        return self.answers.pop(0) if self.answers else web.Response(status=200)


class Loopback(aiohttp.abc.AbstractResolver):
    """Every host name is 127.0.0.1 (a virtual-hosted bucket's name reaches the server)."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port,
                 "family": socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


KEYS = AwsCredentials.static(Secret("AKIDEXAMPLE"), Secret("secret"))


def serve(script: Script, go: Callable[[S3Client], Awaitable[T]], *,
          host: str = "127.0.0.1", region: str = "us-east-1",
          credentials: AwsCredentials = KEYS, addressing: str = "auto") -> T:
    async def main() -> T:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", script.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        client = S3Client(f"http://{host}:{server.port}", region, credentials,
                          addressing=addressing, resolver=Loopback())
        try:
            return await go(client)
        finally:
            await client.close()
            await server.close()

    return asyncio.run(main())


def xml(body: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body.encode(), content_type="application/xml")


def test_conditional_put_sends_if_none_match_metadata_and_a_signature() -> None:
    script = Script([web.Response(status=200), xml(
        "<Error><Code>PreconditionFailed</Code><Message>no</Message></Error>", 412)])

    async def go(c: S3Client) -> list[S3Response]:
        return [await c.put_object("b", "p/k 1.jsonl", b"body", metadata={"batch-end": "9"},
                                   content_type="application/x-ndjson", if_none_match=True),
                await c.put_object("b", "p/k 1.jsonl", b"body", if_none_match=True)]

    first, second = serve(script, go)
    put = script.seen[0]
    assert (put.method, put.path) == ("PUT", "/b/p/k 1.jsonl")
    assert put.headers["if-none-match"] == "*"
    assert put.headers["x-amz-meta-batch-end"] == "9"
    assert put.headers["content-type"] == "application/x-ndjson"
    assert put.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    signed = put.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"if-none-match", "x-amz-meta-batch-end", "content-md5"} <= set(signed)
    assert put.body == b"body" and first.ok
    assert second.status == 412 and second.error_code == "PreconditionFailed"


def test_an_unconditional_put_sends_no_if_none_match() -> None:
    script = Script()
    serve(script, lambda c: c.put_object("b", "k", b"x"))
    assert "if-none-match" not in script.seen[0].headers


def test_create_upload_part_complete_and_abort() -> None:
    script = Script([
        xml(f'<InitiateMultipartUploadResult xmlns="{NS}"><Bucket>b</Bucket><Key>k</Key>'
            "<UploadId>UP-1</UploadId></InitiateMultipartUploadResult>"),
        web.Response(status=200, headers={"ETag": '"e1"'}),
        xml(f'<CompleteMultipartUploadResult xmlns="{NS}"><ETag>"x-2"</ETag>'
            "</CompleteMultipartUploadResult>"),
        web.Response(status=204),
    ])

    async def go(c: S3Client) -> tuple[str, str | None, S3Response, S3Response]:
        _resp, upload_id = await c.create_multipart_upload(
            "b", "k", metadata={"content-sha256": "ab"}, encoding="gzip")
        part = await c.upload_part("b", "k", upload_id, 1, b"p1")
        done = await c.complete_multipart_upload("b", "k", upload_id, ['"e1"', '"e2"'],
                                                 if_none_match=True)
        aborted = await c.abort_multipart_upload("b", "k", upload_id)
        return upload_id, part.header("etag"), done, aborted

    upload_id, etag, done, aborted = serve(script, go)
    assert upload_id == "UP-1" and etag == '"e1"' and done.ok and aborted.status == 204
    create, part, complete, abort = script.seen
    assert (create.method, create.query) == ("POST", {"uploads": ""})
    assert create.headers["x-amz-meta-content-sha256"] == "ab"
    assert create.headers["content-encoding"] == "gzip"
    assert (part.method, part.query) == ("PUT", {"partNumber": "1", "uploadId": "UP-1"})
    assert part.body == b"p1"
    assert (complete.method, complete.query) == ("POST", {"uploadId": "UP-1"})
    assert complete.headers["if-none-match"] == "*"
    parts = ET.fromstring(complete.body).findall("Part")
    assert [(p.findtext("PartNumber"), p.findtext("ETag")) for p in parts] == [
        ("1", '"e1"'), ("2", '"e2"')]
    assert complete.body == complete_multipart_body(['"e1"', '"e2"'])
    assert (abort.method, abort.query) == ("DELETE", {"uploadId": "UP-1"})


def test_a_complete_answered_200_with_an_error_document_is_a_failure() -> None:
    script = Script([xml("<Error><Code>InternalError</Code><Message>later</Message></Error>")])
    resp = serve(script, lambda c: c.complete_multipart_upload("b", "k", "U", ['"e"']))
    assert resp.status == 500 and resp.error_code == "InternalError"


def test_create_without_an_upload_id_is_a_malformed_answer() -> None:
    script = Script([xml("<InitiateMultipartUploadResult/>")])
    resp, upload_id = serve(script, lambda c: c.create_multipart_upload("b", "k"))
    assert upload_id == "" and resp.status is None and "UploadId" in resp.error


def test_list_uploads_follows_the_markers() -> None:
    def page(uploads: list[tuple[str, str]], truncated: bool, key: str = "", uid: str = ""
             ) -> web.Response:
        items = "".join(f"<Upload><Key>{k}</Key><UploadId>{u}</UploadId></Upload>"
                        for k, u in uploads)
        more = (f"<NextKeyMarker>{key}</NextKeyMarker><NextUploadIdMarker>{uid}"
                "</NextUploadIdMarker>") if truncated else ""
        return xml(f'<ListMultipartUploadsResult xmlns="{NS}"><Bucket>b</Bucket>{items}'
                   f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{more}"
                   "</ListMultipartUploadsResult>")

    script = Script([page([("a/1", "u1"), ("a/2", "u2")], True, "a/2", "u2"),
                     page([("a/3", "u3")], False)])
    uploads = serve(script, lambda c: c.list_multipart_uploads("b", "a/"))
    assert uploads == [MultipartUpload("a/1", "u1"), MultipartUpload("a/2", "u2"),
                       MultipartUpload("a/3", "u3")]
    first, second = script.seen
    assert first.query == {"uploads": "", "prefix": "a/"}
    assert second.query == {"uploads": "", "prefix": "a/", "key-marker": "a/2",
                            "upload-id-marker": "u2"}


def test_head_reads_the_metadata_back() -> None:
    script = Script([web.Response(status=200, headers={
        "x-amz-meta-content-sha256": "abc", "X-Amz-Meta-Batch-End": "7", "ETag": '"e"'})])
    head = serve(script, lambda c: c.head_object("b", "k"))
    assert head.metadata == {"content-sha256": "abc", "batch-end": "7"}
    assert script.seen[0].method == "HEAD"


def test_client_repr_hides_credentials() -> None:
    client = S3Client("http://h:1", "us-east-1",
                      AwsCredentials.static(Secret("AKIA"), Secret("super-secret")))
    assert "super-secret" not in repr(client) and "AKIA" not in repr(client)


# -- signing, addressing, encryption -------------------------------------------------------

def test_every_request_is_signed_as_sent() -> None:
    script = Script()

    async def go(c: S3Client) -> None:
        await c.put_object("b", "dir/a key+1~.jsonl", b"body", metadata={"batch-end": "9"})
        await c.request("GET", "b", query={"list-type": "2", "prefix": "dir/a b,c*"})

    script.answers = [web.Response(status=200), xml(
        f'<ListBucketResult xmlns="{NS}"><IsTruncated>false</IsTruncated></ListBucketResult>')]
    serve(script, go)
    put, listing = script.seen
    assert put.verify().service == "s3" and listing.verify().access_key == "AKIDEXAMPLE"
    assert put.path == "/b/dir/a key+1~.jsonl"
    with pytest.raises(AssertionError, match="signature mismatch"):  # the check can fail
        put.verify("another-secret")
    tampered = replace(put, raw_path=put.raw_path.replace("key", "kex"))
    with pytest.raises(AssertionError, match="signature mismatch"):
        tampered.verify()


def test_a_session_token_is_sent_and_signed() -> None:
    script = Script()
    creds = AwsCredentials.static(Secret("ASIATEMP"), Secret("temp-secret"), Secret("tok-123"))
    serve(script, lambda c: c.head_bucket("b"), credentials=creds)
    (head,) = script.seen
    assert head.headers["x-amz-security-token"] == "tok-123"
    auth = head.verify("temp-secret")
    assert "x-amz-security-token" in auth.signed_headers and auth.access_key == "ASIATEMP"


def test_aws_endpoints_are_virtual_hosted_and_minio_path_style() -> None:
    aws = S3Client("https://s3.eu-west-1.amazonaws.com", "eu-west-1", KEYS)
    assert aws.url("my-bucket", "a/b c") == "https://my-bucket.s3.eu-west-1.amazonaws.com/a/b%20c"
    assert aws.url("dotted.bucket", "k") == "https://s3.eu-west-1.amazonaws.com/dotted.bucket/k"
    minio = S3Client("http://127.0.0.1:19000", "us-east-1", KEYS)
    assert minio.url("my-bucket", "k") == "http://127.0.0.1:19000/my-bucket/k"
    forced = S3Client("http://minio.local:9000", "us-east-1", KEYS, addressing="virtual")
    assert forced.url("b", "k") == "http://b.minio.local:9000/k"
    path = S3Client("https://s3.eu-west-1.amazonaws.com", "eu-west-1", KEYS, addressing="path")
    assert path.url("my-bucket", "") == "https://s3.eu-west-1.amazonaws.com/my-bucket"


def test_a_virtual_hosted_request_names_the_bucket_in_its_signed_host() -> None:
    script = Script()
    serve(script, lambda c: c.put_object("my-bucket", "k/1.json", b"{}"),
          host="s3.eu-west-1.amazonaws.com", region="eu-west-1")
    (put,) = script.seen
    assert put.path == "/k/1.json"
    assert put.headers["host"].startswith("my-bucket.s3.eu-west-1.amazonaws.com:")
    auth = put.verify()
    assert (auth.region, auth.service) == ("eu-west-1", "s3")


def test_a_bucket_outside_us_east_1_is_created_with_its_location() -> None:
    script = Script()
    serve(script, lambda c: c.create_bucket("my-bucket"), host="s3.eu-west-1.amazonaws.com",
          region="eu-west-1")
    assert b"<LocationConstraint>eu-west-1</LocationConstraint>" in script.seen[0].body
    script = Script()
    serve(script, lambda c: c.create_bucket("my-bucket"))
    assert script.seen[0].body == b""


def test_server_side_encryption_headers_are_sent_and_signed() -> None:
    script = Script([web.Response(status=200), xml(
        f'<InitiateMultipartUploadResult xmlns="{NS}"><UploadId>U</UploadId>'
        "</InitiateMultipartUploadResult>"), web.Response(status=200)])
    kms = ServerSideEncryption("aws:kms", "arn:aws:kms:eu-west-1:1:key/k")

    async def go(c: S3Client) -> None:
        await c.put_object("b", "k", b"x", sse=SSE_S3)
        await c.create_multipart_upload("b", "k2", sse=kms)
        await c.put_object("b", "k3", b"y")

    serve(script, go)
    put, create, plain = script.seen
    assert put.headers["x-amz-server-side-encryption"] == "AES256"
    assert create.headers["x-amz-server-side-encryption"] == "aws:kms"
    assert create.headers["x-amz-server-side-encryption-aws-kms-key-id"] == kms.kms_key_id
    assert "x-amz-server-side-encryption" in put.verify().signed_headers
    assert "x-amz-server-side-encryption-aws-kms-key-id" in create.verify().signed_headers
    assert "x-amz-server-side-encryption" not in plain.headers


def test_refreshed_credentials_sign_the_next_request() -> None:
    """Credentials due for a refresh are refreshed before the request is signed."""
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        issued.append(f"ASIA{len(issued)}")
        soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
        return {"access_key": issued[-1], "secret_key": "s" + issued[-1], "token": "t",
                "expiry_time": soon.isoformat()}

    botocore_creds = RefreshableCredentials.create_from_metadata(
        refresh(), refresh, "test", advisory_timeout=60, mandatory_timeout=10)
    creds = AwsCredentials(botocore_creds, settings="test")
    script = Script()

    async def go(c: S3Client) -> None:
        await c.head_bucket("b")
        await c.head_bucket("b")

    serve(script, go, credentials=creds)
    first, second = script.seen
    # 30 s left is within the 60 s window: each request refreshed before it was signed.
    assert first.verify("sASIA1").access_key == "ASIA1"
    assert second.verify("sASIA2").access_key == "ASIA2"
