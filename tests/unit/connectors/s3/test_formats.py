"""Body encoders in the S3 destination: JSON Lines unchanged, Parquet keys and headers,
conversion failures reported once (retries neither repeat nor lose them) and backed up under
``format-conversion-failed`` in Firehose's envelope; the config rules."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json

import pyarrow.parquet as pq
import pytest

from connectors.core import (
    Batch,
    BufferingHints,
    DeliveryCore,
    DontRetry,
    Rejected,
    RetryOptions,
    RetryPartial,
    Successful,
    deliver_batch,
    format_failure,
)
from connectors.s3 import (
    FORMAT_CONVERSION_FAILED,
    CompressionFormat,
    JsonLinesEncoder,
    ParquetEncoder,
    S3Destination,
    S3Response,
    compile_prefixes,
    failure_formatter,
    schema_for,
)
from connectors.s3.formats import BodyEncoder
from ground.errors import KeyCollisionError
from tests.unit.connectors.helpers import no_sleep, rec
from tests.unit.fakes import ManualClock

SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>slow</Message></Error>"


class FakeClient:
    """Answers PUTs from ``script`` (then 200), stores what it accepted; HEAD: 404."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [])
        self.puts: list[tuple[str, bytes, str, str]] = []
        self.objects: dict[str, bytes] = {}

    async def put_object(self, bucket, key, body, *, content_type="", encoding="",
                         metadata=None, if_none_match=False, sse=None):
        self.puts.append((key, body, content_type, encoding))
        status = self.script.pop(0) if self.script else 200
        if status == 200:
            self.objects[key] = body
            return S3Response(200)
        return S3Response(status, SLOW_DOWN)

    async def head_object(self, bucket, key):
        return S3Response(404)

    async def open(self) -> None: ...

    async def close(self) -> None: ...


def tick(i: int) -> bytes:
    return json.dumps({"ticker_symbol": f"T{i % 3}", "sector": "TECH", "change": i / 4,
                       "price": 10 + i, "event_time_ms": 1_700_000_000_000 + i}).encode()


def parquet_dest(client: FakeClient, **kw) -> S3Destination:
    return S3Destination(client, "b", prefix="raw/", stream="s",  # type: ignore[arg-type]
                         compression=CompressionFormat.UNCOMPRESSED,
                         encoder=ParquetEncoder(schema_for("ticker")), **kw)


# -- JSON Lines: byte-identical to what the destination wrote before ---------------------------

@pytest.mark.parametrize("fmt", list(CompressionFormat))
def test_json_lines_is_compression_of_the_values_each_followed_by_a_newline(
    fmt: CompressionFormat,
) -> None:
    recs = [rec(i, b'{"i":%d}' % i) for i in range(50)]
    encoded = JsonLinesEncoder(fmt).encode(recs)
    assert encoded.body == fmt.compress(b"".join(r.value + b"\n" for r in recs))  # type: ignore[operator]
    assert fmt.decompress(encoded.body) == b"".join(b'{"i":%d}\n' % i for i in range(50))
    assert encoded.records == tuple(recs) and encoded.failures == ()
    encoder: BodyEncoder = JsonLinesEncoder(fmt)
    assert encoder.extension == ".jsonl" + fmt.extension
    assert (encoder.content_type, encoder.content_encoding) == (fmt.content_type,
                                                                fmt.content_encoding)


def test_default_encoder_is_json_lines_with_the_destination_compression() -> None:
    dest = S3Destination(FakeClient(), "b", stream="s")  # type: ignore[arg-type]
    assert dest.encoder == JsonLinesEncoder(CompressionFormat.GZIP)
    batch = Batch.of([rec(5, b'{"a":1}'), rec(6, None), rec(7, b'{"a":2}')])
    (obj,) = dest.encode(batch).objects
    assert gzip.decompress(obj.body) == b'{"a":1}\n{"a":2}\n'
    assert obj.key.endswith("s-t+0+00000000000000000005.jsonl.gz")


# -- Parquet through the destination ---------------------------------------------------------

def test_parquet_objects_key_headers_and_metadata() -> None:
    client = FakeClient()
    dest = parquet_dest(client)
    batch = Batch.of([rec(i, tick(i)) for i in range(10, 20)])
    request = dest.encode(batch)
    (obj,) = request.objects
    assert obj.key == "raw/2023/11/14/22/s-t+0+00000000000000000010.parquet"
    assert obj.metadata["content-sha256"] == hashlib.sha256(obj.body).hexdigest()
    assert obj.metadata["records"] == "10" and request.failures == ()
    assert asyncio.run(dest.send(request))[0].ok
    ((key, body, ctype, encoding),) = client.puts
    assert (ctype, encoding) == ("application/octet-stream", "")
    assert pq.read_table(io.BytesIO(body)).to_pylist() == [json.loads(tick(i))
                                                          for i in range(10, 20)]


def test_key_and_metadata_come_from_the_records_in_the_object() -> None:
    dest = parquet_dest(FakeClient())
    batch = Batch.of([rec(10, b"bad"), rec(11, tick(11)), rec(12, b"[]"), rec(13, tick(13))])
    request = dest.encode(batch)
    (obj,) = request.objects
    assert obj.key.endswith("+00000000000000000011.parquet")
    assert (obj.metadata["first-offset"], obj.metadata["last-offset"]) == ("11", "13")
    assert (obj.metadata["batch-start"], obj.metadata["batch-end"]) == ("10", "13")
    assert [r.offset for r in obj.records] == [11, 13]
    assert [f.record.offset for f in request.failures] == [10, 12]
    # a retry of just the converted records writes the same key and bytes
    again = dest.encode(Batch.of(list(obj.records), cut=(10, 13)))
    assert again.objects == request.objects and again.failures == ()
    assert dest.key_for(batch) == obj.key


def test_classify_reports_failures_with_a_successful_write() -> None:
    dest = parquet_dest(FakeClient())
    batch = Batch.of([rec(1, tick(1)), rec(2, b"nope")])
    request = dest.encode(batch)
    outcome = dest.classify(batch, request, [S3Response(200)])
    assert isinstance(outcome, DontRetry)
    ((rejected),) = outcome.rejected
    assert rejected.record.offset == 2 and rejected.error_output_type == FORMAT_CONVERSION_FAILED
    all_good = Batch.of([rec(1, tick(1))])
    assert isinstance(dest.classify(all_good, dest.encode(all_good), [S3Response(200)]),
                      Successful)


def test_only_failures_no_object() -> None:
    dest = parquet_dest(FakeClient())
    batch = Batch.of([rec(1, b"x"), rec(2, None)])
    request = dest.encode(batch)
    assert request.objects == () and len(request.failures) == 1
    assert asyncio.run(dest.send(request)) == []
    outcome = dest.classify(batch, request, [])
    assert isinstance(outcome, DontRetry) and outcome.rejected == request.failures


def test_a_retried_put_neither_repeats_nor_loses_the_failures() -> None:
    client = FakeClient(script=[503, 503])  # two throttled PUTs, then success
    dest = parquet_dest(client)
    batch = Batch.of([rec(i, tick(i) if i % 4 else b"{broken") for i in range(12)])
    first = dest.classify(batch, dest.encode(batch), [S3Response(503, SLOW_DOWN)])
    assert isinstance(first, RetryPartial) and len(first.rejected) == 3

    result = asyncio.run(deliver_batch(dest, batch, RetryOptions(max_attempts=5), sleep=no_sleep))
    assert result.attempts == 3
    assert sorted(r.record.offset for r in result.rejected) == [0, 4, 8]  # once each
    assert {r.error_output_type for r in result.rejected} == {FORMAT_CONVERSION_FAILED}
    keys = {k for k, *_ in client.puts}
    assert keys == {"raw/2023/11/14/22/s-t+0+00000000000000000001.parquet"}  # same key each time
    (body,) = client.objects.values()
    assert [r["event_time_ms"] - 1_700_000_000_000 for r in
            pq.read_table(io.BytesIO(body)).to_pylist()] == [i for i in range(12) if i % 4]


def test_the_core_backs_failures_up_under_format_conversion_failed_in_firehoses_envelope() -> None:
    client, backup_client = FakeClient(), FakeClient()
    dest = parquet_dest(client)
    error_prefix = compile_prefixes("raw/", "errors/!{firehose:error-output-type}/")
    backup = S3Destination(backup_client, "b", prefix=error_prefix.error_output_prefix,  # type: ignore[arg-type]
                           stream="s", error_output_type="s3-failed",
                           compression=CompressionFormat.UNCOMPRESSED)
    core = DeliveryCore("s", dest, hints=BufferingHints(max_records=100),
                        retry=RetryOptions(max_attempts=2), backup=backup,
                        format_failure=failure_formatter("ticker"), clock=ManualClock(),
                        wall_clock=lambda: 42, sleep=no_sleep)
    records = [rec(i, tick(i) if i not in (3, 7) else b"\x00bad %d" % i, key=b"k")
               for i in range(10)]
    for r in records:
        core.add(r, 0)
    asyncio.run(core.flush(core.drain()))
    assert core.committable() == {("t", 0): 10}
    (key,) = backup_client.objects
    assert key == "errors/format-conversion-failed/s-t+0+00000000000000000003.jsonl"
    docs = [json.loads(line) for line in backup_client.objects[key].splitlines()]
    assert [base64.b64decode(d["rawData"]) for d in docs] == [b"\x00bad 3", b"\x00bad 7"]
    assert set(docs[0]) >= {"attemptsMade", "arrivalTimestamp", "ErrorCode", "ErrorMessage",
                            "attemptEndingTimestamp", "rawData", "sequenceNumber",
                            "subSequenceNumber", "dataCatalogTable"}
    assert docs[0]["attemptsMade"] == 1 and docs[0]["attemptEndingTimestamp"] == 42
    assert docs[0]["arrivalTimestamp"] == records[3].timestamp_ms
    assert docs[0]["ErrorCode"] == "DataFormatConversion.MalformedData"
    assert docs[0]["sequenceNumber"] == "3" and docs[0]["subSequenceNumber"] == 0
    assert docs[0]["dataCatalogTable"]["tableName"] == "ticker"
    (body,) = client.objects.values()
    assert pq.read_table(io.BytesIO(body)).num_rows == 8


def test_other_failures_keep_their_envelope_and_type() -> None:
    formatter = failure_formatter("ticker")
    plain = Rejected(rec(1, b"x"), "AccessDenied", "no")
    assert formatter(plain, 2, 5) == format_failure(plain, 2, 5)


class ExistingClient(FakeClient):
    """Every key exists already (412), holding other bytes for the same records."""

    def __init__(self, metadata: dict[str, str]) -> None:
        super().__init__()
        self.metadata = metadata

    async def put_object(self, bucket, key, body, **kw):
        self.puts.append((key, body, "", ""))
        return S3Response(412)

    async def head_object(self, bucket, key):
        return S3Response(200, headers={f"x-amz-meta-{k}": v for k, v in self.metadata.items()})


@pytest.mark.parametrize("suffice", [False, True])
def test_a_backup_replay_with_other_times_is_not_a_collision(suffice: bool) -> None:
    """The failure document of a replay differs by its attemptEndingTimestamp only."""
    batch = Batch.of([rec(3, b'{"attemptEndingTimestamp": 2}'), rec(4, b'{"x": 1}')])
    theirs = {"content-sha256": "0" * 64, "first-offset": "3", "last-offset": "4",
              "records": "2", "batch-start": "3", "batch-end": "4"}
    dest = S3Destination(ExistingClient(theirs), "b", stream="s",  # type: ignore[arg-type]
                         same_records_suffice=suffice)
    request = dest.encode(batch)
    if suffice:
        (response,) = asyncio.run(dest.send(request))
        assert response.ok
    else:
        with pytest.raises(KeyCollisionError):
            asyncio.run(dest.send(request))
    other = {**theirs, "last-offset": "5"}  # other records: always a collision
    dest = S3Destination(ExistingClient(other), "b", stream="s",  # type: ignore[arg-type]
                         same_records_suffice=True)
    with pytest.raises(KeyCollisionError):
        asyncio.run(dest.send(request))
