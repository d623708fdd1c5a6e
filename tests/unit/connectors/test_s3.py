import asyncio
import gzip

import pytest

from connectors.build import build_core
from connectors.config import DeliveryConfig
from connectors.core import Batch, DontRetry, Retry, Successful
from connectors.s3 import Compression, S3Client, S3Destination, S3Response, date_path, object_key
from ground.aws_credentials import AwsCredentials
from ground.errors import ConfigError
from ground.settings import Secret, Settings
from tests.unit.connectors.helpers import rec

NO_SUCH_BUCKET = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>
<BucketName>missing</BucketName><Resource>/missing/k</Resource></Error>"""
ACCESS_DENIED = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>"""
SLOW_DOWN = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"""

KEYS = AwsCredentials.static(Secret("k"), Secret("secret-key"))


def dest(compression: Compression = Compression.GZIP) -> S3Destination:
    client = S3Client("http://127.0.0.1:9", "us-east-1", KEYS)
    return S3Destination(client, "bucket", prefix="raw/", stream="ticks", compression=compression)


BATCH = Batch.of([rec(1234, b'{"a":1}', partition=2, ts=1_700_000_000_000),
                  rec(1235, None, partition=2), rec(1236, b'{"a":2}', partition=2)])


def test_key_is_deterministic_from_start_offset_and_oldest_record_time() -> None:
    key = object_key("raw/", "ticks", BATCH, ".jsonl.gz")
    assert key == "raw/2023/11/14/22/ticks-t+2+00000000000000001234.jsonl.gz"
    assert date_path(0) == "1970/01/01/00/"


def test_gzip_json_lines_one_value_per_line_tombstones_skipped() -> None:
    request = dest().encode(BATCH)
    assert request.key.endswith("+00000000000000001234.jsonl.gz")
    (obj,) = request.objects
    assert gzip.decompress(obj.body) == b'{"a":1}\n{"a":2}\n'
    assert obj == dest().encode(BATCH).objects[0]  # byte-identical on a replay (mtime=0)


def test_uncompressed() -> None:
    request = dest(Compression.UNCOMPRESSED).encode(BATCH)
    assert request.key.endswith(".jsonl") and request.objects[0].body == b'{"a":1}\n{"a":2}\n'


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (S3Response(200), Successful),
        (S3Response(503, SLOW_DOWN), Retry),
        (S3Response(500, b""), Retry),
        (S3Response(429, b""), Retry),
        (S3Response(None, error="ClientConnectorError: refused"), Retry),
        (S3Response(None, error="TimeoutError: "), Retry),
        (S3Response(403, ACCESS_DENIED), DontRetry),
        (S3Response(404, NO_SUCH_BUCKET), DontRetry),
        (S3Response(400, b""), DontRetry),
    ],
)
def test_classify(response: S3Response, expected: type) -> None:
    d = dest()
    assert isinstance(d.classify(BATCH, d.encode(BATCH), [response]), expected)


def test_permanent_failure_names_the_s3_error_code() -> None:
    d = dest()
    outcome = d.classify(BATCH, d.encode(BATCH), [S3Response(404, NO_SUCH_BUCKET)])
    assert isinstance(outcome, DontRetry)
    assert {r.error_code for r in outcome.rejected} == {"NoSuchBucket"}
    # the records in the object (the tombstone at 1235 was never in it)
    assert [r.record.offset for r in outcome.rejected] == [1234, 1236]


def test_connection_refused_is_a_response_not_an_exception() -> None:
    async def go() -> list[S3Response]:
        d = dest()
        try:
            return await d.send(d.encode(BATCH))
        finally:
            await d.close()

    (response,) = asyncio.run(go())
    assert response.status is None and "Connect" in response.error


def test_client_repr_hides_credentials() -> None:
    client = S3Client("http://h:1", "us-east-1",
                      AwsCredentials.static(Secret("AKIA"), Secret("super-secret")))
    assert "super-secret" not in repr(client) and "AKIA" not in repr(client)


def test_destination_compiles_its_prefix_at_construction() -> None:
    client = S3Client("http://127.0.0.1:9", "us-east-1", KEYS)
    with pytest.raises(ConfigError) as info:
        S3Destination(client, "bucket", prefix="raw/!{timestamp:yyyy", stream="ticks")
    assert info.value.field == "Prefix"


def test_build_core_writes_failures_under_the_error_output_prefix() -> None:
    settings = Settings.from_env({})
    plain = DeliveryConfig.from_mapping(
        {"name": "ticks", "topic": "t", "s3": {"bucket": "out", "prefix": "raw/",
                                               "error_output_prefix": "errors/"}})
    core = build_core(plain, settings)
    assert isinstance(core.destination, S3Destination)
    assert isinstance(core.backup, S3Destination)
    assert core.destination.key_for(BATCH) == (
        "raw/2023/11/14/22/ticks-t+2+00000000000000001234.jsonl.gz")
    assert core.backup.key_for(BATCH) == (  # as before the prefix engine
        "errors/s3-failed/2023/11/14/22/ticks-t+2+00000000000000001234.jsonl.gz")
    expr = DeliveryConfig.from_mapping(
        {"name": "ticks", "topic": "t", "s3": {
            "bucket": "out", "prefix": "raw/!{timestamp:yyyy-MM-dd}/",
            "error_output_prefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/"}})
    core = build_core(expr, settings)
    assert isinstance(core.destination, S3Destination)
    assert isinstance(core.backup, S3Destination)
    assert core.destination.key_for(BATCH) == (
        "raw/2023-11-14/ticks-t+2+00000000000000001234.jsonl.gz")
    assert core.backup.key_for(BATCH) == (
        "errors/s3-failed/2023/ticks-t+2+00000000000000001234.jsonl.gz")
