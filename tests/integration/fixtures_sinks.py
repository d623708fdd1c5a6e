"""Factories for the sinks of the real local stack: MinIO buckets and Elasticsearch indices.

Both clean up after the test. Reads go through botocore's own S3 client and plain HTTP, not
through ``connectors``, so tests check the delivery against an independent reader.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest

from ground.settings import Settings

__all__ = ["bucket_factory", "es_request", "index_factory", "read_objects", "s3_client"]


def s3_client(settings: Settings) -> Any:
    """botocore's S3 client for the stack's MinIO (path-style)."""
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key.reveal(),
        aws_secret_access_key=settings.s3_secret_key.reveal(),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def read_objects(settings: Settings, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """key → bytes as stored, of every object under ``prefix`` (read back with botocore)."""
    client = s3_client(settings)
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    client.close()
    return out


def es_request(settings: Settings, method: str, path: str, body: Any = None) -> Any:
    """One JSON request to the stack's Elasticsearch/OpenSearch; returns the parsed answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        settings.search_url + path, data=data, method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "error": json.loads(exc.read() or b"null")}


def _unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bucket_factory(stack_settings: Settings) -> Iterator[Callable[..., str]]:
    """``bucket_factory(stem="test")`` → the name of a new, empty MinIO bucket."""
    client = s3_client(stack_settings)
    made: list[str] = []

    def make(stem: str = "test") -> str:
        name = _unique(stem.lower())
        client.create_bucket(Bucket=name)
        made.append(name)
        return name

    yield make
    for name in made:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)
    client.close()


@pytest.fixture
def index_factory(search_settings: Settings) -> Iterator[Callable[..., str]]:
    """``index_factory(stem="test")`` → a unique index name (not created); deleted after.

    Through ``search_settings``, a test using it runs once per search engine."""
    made: list[str] = []

    def make(stem: str = "test") -> str:
        name = _unique(stem.lower())
        made.append(name)
        return name

    yield make
    for name in made:
        es_request(search_settings, "DELETE", f"/{name}?ignore_unavailable=true")
