"""S3Client's multipart and conditional calls: the requests it builds and how it reads the
answers, against a scripted aiohttp server on 127.0.0.1 (no MinIO needed)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web
from aiohttp.test_utils import TestServer

from ground.s3 import MultipartUpload, S3Client, S3Response, complete_multipart_body
from ground.settings import Secret

T = TypeVar("T")
NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    answers: list[web.Response] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.method, request.path, dict(request.query),
                              {k.lower(): v for k, v in request.headers.items()},
                              await request.read()))
        return self.answers.pop(0) if self.answers else web.Response(status=200)


def serve(script: Script, go: Callable[[S3Client], Awaitable[T]]) -> T:
    async def main() -> T:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", script.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        client = S3Client(f"http://127.0.0.1:{server.port}", "us-east-1", Secret("AKIDEXAMPLE"),
                          Secret("secret"))
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
    client = S3Client("http://h:1", "us-east-1", Secret("AKIA"), Secret("super-secret"))
    assert "super-secret" not in repr(client) and "AKIA" not in repr(client)
