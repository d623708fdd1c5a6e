"""The S3 destination's write rules against an in-memory S3 (:mod:`fake_s3`): metadata,
conditional writes and collisions, multipart uploads and their abort, one object per dynamic
partition (the first one written first), the replay probe, clean-up at assignment, encoding
and classifying; and with the delivery core, workers crashing at random points (between
batches, between the objects of one batch, before committing) while the next one replays from
the committed offset with other cuts: every record with a value ends up in exactly one
object."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import random
from collections.abc import Mapping
from typing import Any, cast

import pytest

from connectors.core import (
    Batch,
    BufferingHints,
    DeliveryCore,
    DontRetry,
    Record,
    Retry,
    RetryOptions,
    RetryPartial,
    Successful,
)
from connectors.core.outcome import NoOutput, NotWritten, Outcome, Written
from connectors.s3 import Compression, S3Client, S3Destination, S3Response
from connectors.s3.prefix import compile_prefix
from ground.aws_credentials import AwsCredentials
from ground.errors import ConfigError, KeyCollisionError, RetriableDeliveryError
from ground.settings import Secret
from tests.unit.connectors.helpers import no_sleep, rec
from tests.unit.connectors.s3.fake_s3 import FakeS3, StoredObject
from tests.unit.fakes import ManualClock

MIB = 1024 * 1024
SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>slow</Message></Error>"
ACCESS_DENIED = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"


def dest(s3: FakeS3, **kwargs: Any) -> S3Destination:
    kwargs.setdefault("compression", Compression.GZIP)
    return S3Destination(cast(S3Client, s3), "b", prefix="raw/", stream="st", **kwargs)


def batch(start: int, n: int, *, tomb: frozenset[int] = frozenset(), value: bytes = b'{"a":1}',
          cut: tuple[int, int] | None = None) -> Batch:
    records = [rec(o, None if o in tomb else value + b"%d" % o) for o in range(start, start + n)]
    return Batch.of(records, cut=cut)


def write(d: S3Destination, b: Batch) -> Outcome:
    async def go() -> Outcome:
        request = d.encode(b)
        return d.classify(b, request, await d.send(request))
    return asyncio.run(go())


def lines(body: bytes) -> list[bytes]:
    return gzip.decompress(body).splitlines()


# -- metadata and keys ------------------------------------------------------------------------

def test_every_object_records_its_batch_its_offsets_and_the_hash_of_its_body() -> None:
    s3 = FakeS3()
    b = batch(10, 6, tomb=frozenset({10, 11}))  # the object starts at 12, the batch at 10
    assert isinstance(write(dest(s3), b), Successful)
    ((key, obj),) = s3.objects.items()
    assert key.endswith("st-t+0+00000000000000000012.jsonl.gz")
    assert obj.metadata == {
        "content-sha256": hashlib.sha256(obj.body).hexdigest(),
        "batch-start": "10", "batch-end": "15", "first-offset": "12", "last-offset": "15",
        "records": "4",
    }
    assert lines(obj.body) == [r.value for r in b.records if r.value is not None]


def test_a_retried_part_of_a_batch_records_the_batch_it_was_cut_from() -> None:
    s3 = FakeS3()
    assert isinstance(write(dest(s3), batch(13, 3, cut=(10, 20))), Successful)
    (obj,) = s3.objects.values()
    assert (obj.metadata["batch-start"], obj.metadata["batch-end"]) == ("10", "20")
    assert obj.metadata["first-offset"] == "13"


# -- conditional writes and collisions --------------------------------------------------------

def test_rewriting_identical_content_is_success_and_writes_nothing() -> None:
    s3 = FakeS3()
    d = dest(s3)
    assert isinstance(write(d, batch(0, 5)), Successful)
    before = dict(s3.objects)
    assert isinstance(write(d, batch(0, 5)), Successful)
    assert s3.objects == before
    assert [op for op, _ in s3.calls] == ["PutObject", "PutObject", "HeadObject"]


def test_other_content_under_the_same_key_is_a_collision_and_the_object_is_untouched() -> None:
    s3 = FakeS3()
    d = dest(s3)
    write(d, batch(0, 5))
    (key,) = s3.objects
    original = s3.objects[key]
    with pytest.raises(KeyCollisionError) as info:
        write(d, batch(0, 3))  # same first record, so the same key; other records
    message = str(info.value)
    assert key in message and original.metadata["content-sha256"] in message
    ours = hashlib.sha256(d.encode(batch(0, 3)).objects[0].body).hexdigest()
    assert ours in message and "changed" in message
    assert s3.objects[key] is original


def test_an_object_without_our_metadata_is_compared_by_its_md5_etag() -> None:
    s3 = FakeS3()
    d = dest(s3)
    request = d.encode(batch(0, 4))
    (obj,) = request.objects
    s3.objects[obj.key] = _stored(obj.body)
    assert isinstance(write(d, batch(0, 4)), Successful)
    s3.objects[obj.key] = _stored(b"something else")
    with pytest.raises(KeyCollisionError, match="no content-sha256"):
        write(d, batch(0, 4))


def _stored(body: bytes) -> StoredObject:
    """An object written by a plain PUT without our metadata (its ETag is its MD5)."""
    return StoredObject(body, {}, hashlib.md5(body).hexdigest())


def test_a_key_that_vanished_after_the_412_is_retried() -> None:
    s3 = FakeS3()
    d = dest(s3)
    write(d, batch(0, 4))
    s3.fail["HeadObject"] = [S3Response(404)]
    assert isinstance(write(d, batch(0, 4)), Retry)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(S3Response(503, SLOW_DOWN), Retry), (S3Response(403, ACCESS_DENIED), DontRetry),
     (S3Response(None, error="ClientConnectorError: refused"), Retry)],
)
def test_a_failed_head_after_a_412_is_classified_like_a_failed_write(
    answer: S3Response, expected: type
) -> None:
    s3 = FakeS3()
    d = dest(s3)
    write(d, batch(0, 4))
    s3.fail["HeadObject"] = [answer]
    assert isinstance(write(d, batch(0, 4)), expected)


# -- multipart uploads ------------------------------------------------------------------------

def big_batch(start: int = 0, n: int = 1200) -> Batch:
    """About 12 MiB uncompressed: three parts of 5 MiB."""
    value = hashlib.sha256(b"x").hexdigest().encode() * 160  # 10 KiB a record
    return Batch.of([rec(o, value + b"%d" % o) for o in range(start, start + n)])


def multipart_dest(s3: FakeS3) -> S3Destination:
    return dest(s3, compression=Compression.UNCOMPRESSED, multipart_threshold=5 * MIB,
                part_size=5 * MIB)


def test_a_large_object_goes_up_in_parts_with_its_metadata_and_reads_back_whole() -> None:
    s3 = FakeS3()
    b = big_batch()
    assert isinstance(write(multipart_dest(s3), b), Successful)
    (obj,) = s3.objects.values()
    assert obj.etag == "multipart-3" and s3.uploads == {}
    assert obj.body.splitlines() == [r.value for r in b.records]
    assert obj.metadata["content-sha256"] == hashlib.sha256(obj.body).hexdigest()
    assert obj.metadata["records"] == "1200"
    ops = [op for op, _ in s3.calls]
    assert ops == ["CreateMultipartUpload"] + ["UploadPart"] * 3 + ["CompleteMultipartUpload"]


def test_a_small_object_is_one_put() -> None:
    s3 = FakeS3()
    write(multipart_dest(s3), batch(0, 10))
    assert [op for op, _ in s3.calls] == ["PutObject"]


@pytest.mark.parametrize("failing", ["UploadPart", "CompleteMultipartUpload"])
def test_a_failed_upload_is_aborted_and_retried(failing: str) -> None:
    s3 = FakeS3()
    s3.fail[failing] = [S3Response(503, SLOW_DOWN)]
    d = multipart_dest(s3)
    assert isinstance(write(d, big_batch()), Retry)
    assert s3.uploads == {} and s3.objects == {}
    assert ("AbortMultipartUpload", d.encode(big_batch()).key) in s3.calls
    assert isinstance(write(d, big_batch()), Successful)


def test_an_upload_aborted_under_us_is_retried() -> None:
    s3 = FakeS3()
    s3.fail["UploadPart"] = [S3Response(404, b"<Error><Code>NoSuchUpload</Code></Error>")]
    assert isinstance(write(multipart_dest(s3), big_batch()), Retry)


def test_a_cancelled_upload_is_aborted() -> None:
    s3 = FakeS3()
    parked = asyncio.Event()

    async def park() -> None:
        if sum(op == "UploadPart" for op, _ in s3.calls) == 1:
            parked.set()
            await asyncio.sleep(3600)

    s3.before_part = park
    d = multipart_dest(s3)

    async def go() -> None:
        request = d.encode(big_batch())
        task = asyncio.create_task(d.send(request))
        await parked.wait()
        assert len(s3.uploads) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert s3.uploads == {} and s3.objects == {}


def test_completing_onto_an_identical_object_is_success_and_leaves_no_upload() -> None:
    s3 = FakeS3()
    d = multipart_dest(s3)
    write(d, big_batch())
    assert isinstance(write(d, big_batch()), Successful)
    assert s3.uploads == {} and len(s3.objects) == 1


def test_completing_onto_other_content_is_a_collision_and_leaves_no_upload() -> None:
    s3 = FakeS3()
    d = multipart_dest(s3)
    write(d, big_batch(n=1000))
    (key,) = s3.objects
    original = s3.objects[key]
    with pytest.raises(KeyCollisionError):
        write(d, big_batch(n=1200))
    assert s3.objects[key] is original and s3.uploads == {}


# -- dynamic partitions -----------------------------------------------------------------------

def dynamic_dest(s3: FakeS3, prefix: str = "raw/!{partitionKeyFromQuery:k}/") -> S3Destination:
    compiled = compile_prefix(prefix, dynamic_partitioning=True)
    return S3Destination(cast(S3Client, s3), "b", prefix=compiled, stream="st")


def keyed(offset: int, k: str, value: bytes | None = b'{"a":1}') -> Record:
    return Record("t", 0, offset, None, value, 1_700_000_000_000, partition_keys=(("k", k),))


def test_one_object_per_dynamic_partition_keyed_by_its_first_record() -> None:
    s3 = FakeS3()
    d = dynamic_dest(s3, "raw/k=!{partitionKeyFromQuery:k}/")
    b = Batch.of([keyed(5, "x", None), keyed(6, "y"), keyed(7, "x"), keyed(8, "y"),
                  keyed(9, "z")])
    assert isinstance(write(d, b), Successful)
    got = {k: (v.metadata["first-offset"], v.metadata["records"], v.metadata["batch-start"])
           for k, v in s3.objects.items()}
    assert got == {
        "raw/k=y/st-t+0+00000000000000000006.jsonl.gz": ("6", "2", "5"),
        "raw/k=x/st-t+0+00000000000000000007.jsonl.gz": ("7", "1", "5"),
        "raw/k=z/st-t+0+00000000000000000009.jsonl.gz": ("9", "1", "5"),
    }
    # the object of the batch's first record with output goes first, alone
    assert s3.calls[0] == ("PutObject", "raw/k=y/st-t+0+00000000000000000006.jsonl.gz")


def test_when_the_first_object_fails_the_others_are_not_sent() -> None:
    s3 = FakeS3()
    d = dynamic_dest(s3)
    b = Batch.of([keyed(0, "x"), keyed(1, "y"), keyed(2, "x")])
    s3.fail["PutObject"] = [S3Response(503, SLOW_DOWN)]
    assert isinstance(write(d, b), Retry)
    assert s3.objects == {} and len(s3.calls) == 1
    # the others failing is only theirs to retry
    s3.calls.clear()
    s3.fail["PutObject"] = [None, S3Response(503, SLOW_DOWN)]
    outcome = write(d, b)
    assert isinstance(outcome, RetryPartial)
    assert [r.offset for r in outcome.records] == [1]


# -- the replay probe -------------------------------------------------------------------------

def probe(d: S3Destination, b: Batch) -> Any:
    return asyncio.run(d.written(b))


def test_probe_answers_the_batch_a_previous_owner_cut() -> None:
    s3 = FakeS3()
    d = dest(s3)
    write(d, batch(0, 10))
    assert probe(d, batch(0, 4)) == Written(0, 9)
    assert probe(d, batch(0, 14)) == Written(0, 9)
    assert probe(d, batch(10, 4)) == NotWritten()
    assert probe(d, batch(0, 3, tomb=frozenset({0, 1, 2}))) == NoOutput()


def test_probe_accepts_a_batch_that_starts_after_ours_when_ours_begins_without_output() -> None:
    s3 = FakeS3()
    d = dest(s3)
    write(d, batch(3, 6))  # 3..8
    assert probe(d, batch(0, 6, tomb=frozenset({0, 1, 2}))) == Written(3, 8)
    assert probe(d, batch(5, 6)) == NotWritten()  # a key of its own


def test_probe_refuses_an_object_whose_batch_does_not_hold_its_key() -> None:
    s3 = FakeS3()
    d = dest(s3)
    write(d, batch(4, 2, cut=(0, 3)))  # metadata that cannot be ours
    with pytest.raises(KeyCollisionError, match="does not hold"):
        probe(d, batch(4, 2))


def test_probe_of_an_object_without_batch_metadata_tells_nothing() -> None:
    s3 = FakeS3()
    d = dest(s3)
    key = d.encode(batch(0, 3)).key
    s3.objects[key] = _stored(b"old")
    assert probe(d, batch(0, 3)) == NotWritten()


def test_probe_failures_are_retriable() -> None:
    s3 = FakeS3()
    s3.fail["HeadObject"] = [S3Response(503, SLOW_DOWN)]
    with pytest.raises(RetriableDeliveryError):
        probe(dest(s3), batch(0, 3))


def test_probe_looks_at_the_first_object_only() -> None:
    """A batch's first object is written before its others: a crash between them leaves the
    first, so the first key alone tells whether the batch was (partly) written."""
    s3 = FakeS3()
    d = dynamic_dest(s3)
    s3.fail["PutObject"] = [None, S3Response(503, SLOW_DOWN)]  # x written, y not: a crash
    write(d, Batch.of([keyed(0, "x"), keyed(1, "y"), keyed(2, "x"), keyed(3, "y")]))
    assert len(s3.objects) == 1
    s3.calls.clear()
    # a replay cut shorter, and one cut longer with a later partition: both find 0..3
    assert probe(d, Batch.of([keyed(0, "x"), keyed(1, "y")])) == Written(0, 3)
    assert probe(d, Batch.of([keyed(0, "x"), keyed(1, "y"), keyed(2, "x"), keyed(3, "y"),
                              keyed(4, "z")])) == Written(0, 3)
    assert {op for op, _ in s3.calls} == {"HeadObject"} and len(s3.calls) == 2


# -- clean-up at assignment ---------------------------------------------------------------

def test_prepare_aborts_the_incomplete_uploads_of_the_assigned_partitions_only() -> None:
    s3 = FakeS3()
    keys = {
        "mine": "raw/2026/01/01/00/st-t+0+00000000000000000042.jsonl.gz",
        "mine_other_prefix": "raw/x/st-t+0+00000000000000000099.jsonl.gz",
        "other_partition": "raw/2026/01/01/00/st-t+1+00000000000000000042.jsonl.gz",
        "other_partition_10": "raw/2026/01/01/00/st-t+10+00000000000000000042.jsonl.gz",
        "other_stream": "raw/2026/01/01/00/stx-t+0+00000000000000000042.jsonl.gz",
        "other_topic": "raw/2026/01/01/00/st-tt+0+00000000000000000042.jsonl.gz",
    }

    async def go() -> int:
        for key in keys.values():
            await s3.create_multipart_upload("b", key)
        return await dest(s3).prepare([("t", 0)])

    assert asyncio.run(go()) == 2
    assert {u.key for u in s3.uploads.values()} == {
        keys["other_partition"], keys["other_partition_10"], keys["other_stream"],
        keys["other_topic"],
    }


# -- encoding, sending and classifying --------------------------------------------------------

NO_SUCH_BUCKET = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>
<BucketName>missing</BucketName><Resource>/missing/k</Resource></Error>"""


ACCESS_DENIED_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>"""


SLOW_DOWN_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"""


def plain_dest(compression: Compression = Compression.GZIP) -> S3Destination:
    client = S3Client("http://127.0.0.1:9", "us-east-1",
                      AwsCredentials.static(Secret("k"), Secret("secret-key")))
    return S3Destination(client, "bucket", prefix="raw/", stream="ticks", compression=compression)


BATCH = Batch.of([rec(1234, b'{"a":1}', partition=2, ts=1_700_000_000_000),
                  rec(1235, None, partition=2), rec(1236, b'{"a":2}', partition=2)])


def test_gzip_json_lines_one_value_per_line_tombstones_skipped() -> None:
    request = plain_dest().encode(BATCH)
    assert request.key.endswith("+00000000000000001234.jsonl.gz")
    (obj,) = request.objects
    assert gzip.decompress(obj.body) == b'{"a":1}\n{"a":2}\n'
    assert obj == plain_dest().encode(BATCH).objects[0]  # byte-identical on a replay (mtime=0)


def test_uncompressed() -> None:
    request = plain_dest(Compression.UNCOMPRESSED).encode(BATCH)
    assert request.key.endswith(".jsonl") and request.objects[0].body == b'{"a":1}\n{"a":2}\n'


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (S3Response(200), Successful),
        (S3Response(503, SLOW_DOWN_XML), Retry),
        (S3Response(500, b""), Retry),
        (S3Response(429, b""), Retry),
        (S3Response(None, error="ClientConnectorError: refused"), Retry),
        (S3Response(None, error="TimeoutError: "), Retry),
        (S3Response(403, ACCESS_DENIED_XML), DontRetry),
        (S3Response(404, NO_SUCH_BUCKET), DontRetry),
        (S3Response(400, b""), DontRetry),
    ],
)
def test_classify(response: S3Response, expected: type) -> None:
    d = plain_dest()
    assert isinstance(d.classify(BATCH, d.encode(BATCH), [response]), expected)


def test_permanent_failure_names_the_s3_error_code() -> None:
    d = plain_dest()
    outcome = d.classify(BATCH, d.encode(BATCH), [S3Response(404, NO_SUCH_BUCKET)])
    assert isinstance(outcome, DontRetry)
    assert {r.error_code for r in outcome.rejected} == {"NoSuchBucket"}
    # the records in the object (the tombstone at 1235 was never in it)
    assert [r.record.offset for r in outcome.rejected] == [1234, 1236]


def test_connection_refused_is_a_response_not_an_exception() -> None:
    async def go() -> list[S3Response]:
        d = plain_dest()
        try:
            return await d.send(d.encode(BATCH))
        finally:
            await d.close()

    (response,) = asyncio.run(go())
    assert response.status is None and "Connect" in response.error


def test_destination_compiles_its_prefix_at_construction() -> None:
    client = S3Client("http://127.0.0.1:9", "us-east-1",
                      AwsCredentials.static(Secret("k"), Secret("secret-key")))
    with pytest.raises(ConfigError) as info:
        S3Destination(client, "bucket", prefix="raw/!{timestamp:yyyy", stream="ticks")
    assert info.value.field == "Prefix"


# -- with the delivery core: workers crash at random points, the next one replays -------------

REPLAY_RETRY = RetryOptions(duration_ms=0, max_attempts=1)


class Crash(Exception):
    """The worker died here (kill -9): nothing after it happens."""


class CrashingS3(FakeS3):
    """Dies after ``budget`` object writes."""

    budget: int | None = None

    async def put_object(self, bucket: str, key: str, body: bytes, *, content_type: str = "",
                         encoding: str = "", metadata: Mapping[str, str] | None = None,
                         if_none_match: bool = False, sse: object = None) -> S3Response:
        if self.budget is not None:
            if self.budget == 0:
                raise Crash(key)
            self.budget -= 1
        return await super().put_object(bucket, key, body, content_type=content_type,
                                        encoding=encoding, metadata=metadata,
                                        if_none_match=if_none_match)


def replay_records(n: int, rng: random.Random, *, dynamic: bool) -> list[Record]:
    out = []
    for o in range(n):
        value = None if rng.random() < 0.15 else json.dumps({"o": o}).encode()
        keys = (("k", rng.choice("xyz")),) if dynamic else ()
        out.append(Record("t", 0, o, None, value, 1_700_000_000_000 + o * 1000,
                          partition_keys=keys))
    return out


def replay_core(s3: FakeS3, rng: random.Random, *, dynamic: bool) -> DeliveryCore:
    prefix = compile_prefix("raw/!{partitionKeyFromQuery:k}/" if dynamic else "raw/",
                            dynamic_partitioning=dynamic)
    dest = S3Destination(cast(S3Client, s3), "b", prefix=prefix, stream="st")
    hints = BufferingHints(size_bytes=10**9, max_records=rng.randint(1, 12), interval_ms=1_000)
    return DeliveryCore("d", dest, hints=hints, retry=REPLAY_RETRY, clock=ManualClock(),
                        sleep=no_sleep)


def run_until_crash(c: DeliveryCore, s3: CrashingS3, rs: list[Record], committed: int,
                    rng: random.Random) -> int:
    """Feed from ``committed``, flush round by round (sometimes by the interval), commit now
    and then; crash somewhere. Returns the committed offset the next worker starts from."""
    clock = cast(ManualClock, c.clock)
    s3.budget = rng.randint(0, 12) if rng.random() < 0.8 else None
    stop_after = rng.randint(1, 6)
    at = committed
    for _round in range(stop_after):
        for r in rs[at:at + rng.randint(1, 15)]:
            c.add(r)
            at = r.offset + 1
        if rng.random() < 0.3:
            clock.now += 1_000  # the interval cuts whatever is buffered
        batches = c.due() or (c.drain() if at >= len(rs) else [])
        try:
            asyncio.run(c.flush(batches))
        except Crash:
            return committed
        if rng.random() < 0.6:  # else: killed between the write and its commit
            committed = c.committable().get(("t", 0), committed)
            c.mark_committed({("t", 0): committed})
    return committed


def offsets_in_objects(s3: FakeS3) -> list[int]:
    return sorted(json.loads(line)["o"] for obj in s3.objects.values()
                  for line in gzip.decompress(obj.body).splitlines())


def check_replays(seed: int, *, dynamic: bool) -> None:
    rng = random.Random(seed)
    n = rng.randint(5, 60)
    rs = replay_records(n, rng, dynamic=dynamic)
    s3 = CrashingS3()
    committed = 0
    for _run in range(300):
        if committed >= n:
            break
        c = replay_core(s3, rng, dynamic=dynamic)
        committed = run_until_crash(c, s3, rs, committed, rng)
    assert committed >= n, f"seed {seed}: never finished"
    expected = [r.offset for r in rs if r.value is not None]
    assert offsets_in_objects(s3) == expected, f"seed {seed}"
    for key, obj in s3.objects.items():  # each object's key is its first record
        assert key.endswith(f"+{int(obj.metadata['first-offset']):020d}.jsonl.gz")


def test_random_crashes_and_cuts_never_lose_or_duplicate_a_record() -> None:
    for seed in range(150):
        check_replays(seed, dynamic=False)


def test_with_dynamic_partitions_and_crashes_between_the_objects_of_a_batch() -> None:
    for seed in range(150):
        check_replays(seed, dynamic=True)


def test_the_crash_points_are_reached() -> None:
    """The fault injection above does crash mid-batch (else the tests prove little)."""
    rng = random.Random(1)
    rs = replay_records(40, rng, dynamic=True)
    s3 = CrashingS3()
    c = replay_core(s3, rng, dynamic=True)
    c.hints = BufferingHints(size_bytes=10**9, max_records=40, interval_ms=1_000)
    s3.budget = 1
    for r in rs:
        c.add(r)
    try:
        asyncio.run(c.flush(c.drain()))
    except Crash:
        pass
    else:
        raise AssertionError("no crash")
    assert len(s3.objects) == 1  # the batch's first object only
