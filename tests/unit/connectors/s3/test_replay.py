"""The delivery core and the S3 destination together, on an in-memory S3: workers crash at
random points (between batches, between the objects of one batch, before committing), the
next one replays from the committed offset with other cuts, and every record with a value
ends up in exactly one object."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from collections.abc import Mapping
from typing import cast

from connectors.core import BufferingHints, DeliveryCore, Record, RetryOptions
from connectors.s3 import S3Client, S3Destination, S3Response
from connectors.s3.prefix import compile_prefix
from tests.unit.connectors.helpers import ManualClock, no_sleep
from tests.unit.connectors.s3.fake_s3 import FakeS3

RETRY = RetryOptions(duration_ms=0, max_attempts=1)


class Crash(Exception):
    """The worker died here (kill -9): nothing after it happens."""


class CrashingS3(FakeS3):
    """Dies after ``budget`` object writes."""

    budget: int | None = None

    async def put_object(self, bucket: str, key: str, body: bytes, *, content_type: str = "",
                         encoding: str = "", metadata: Mapping[str, str] | None = None,
                         if_none_match: bool = False) -> S3Response:
        if self.budget is not None:
            if self.budget == 0:
                raise Crash(key)
            self.budget -= 1
        return await super().put_object(bucket, key, body, content_type=content_type,
                                        encoding=encoding, metadata=metadata,
                                        if_none_match=if_none_match)


def records(n: int, rng: random.Random, *, dynamic: bool) -> list[Record]:
    out = []
    for o in range(n):
        value = None if rng.random() < 0.15 else json.dumps({"o": o}).encode()
        keys = (("k", rng.choice("xyz")),) if dynamic else ()
        out.append(Record("t", 0, o, None, value, 1_700_000_000_000 + o * 1000,
                          partition_keys=keys))
    return out


def core(s3: FakeS3, rng: random.Random, *, dynamic: bool) -> DeliveryCore:
    prefix = compile_prefix("raw/!{partitionKeyFromQuery:k}/" if dynamic else "raw/",
                            dynamic_partitioning=dynamic)
    dest = S3Destination(cast(S3Client, s3), "b", prefix=prefix, stream="st")
    hints = BufferingHints(size_bytes=10**9, max_records=rng.randint(1, 12), interval_ms=1_000)
    return DeliveryCore("d", dest, hints=hints, retry=RETRY, clock=ManualClock(),
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


def check(seed: int, *, dynamic: bool) -> None:
    rng = random.Random(seed)
    n = rng.randint(5, 60)
    rs = records(n, rng, dynamic=dynamic)
    s3 = CrashingS3()
    committed = 0
    for _run in range(300):
        if committed >= n:
            break
        c = core(s3, rng, dynamic=dynamic)
        committed = run_until_crash(c, s3, rs, committed, rng)
    assert committed >= n, f"seed {seed}: never finished"
    expected = [r.offset for r in rs if r.value is not None]
    assert offsets_in_objects(s3) == expected, f"seed {seed}"
    for key, obj in s3.objects.items():  # each object's key is its first record
        assert key.endswith(f"+{int(obj.metadata['first-offset']):020d}.jsonl.gz")


def test_random_crashes_and_cuts_never_lose_or_duplicate_a_record() -> None:
    for seed in range(150):
        check(seed, dynamic=False)


def test_with_dynamic_partitions_and_crashes_between_the_objects_of_a_batch() -> None:
    for seed in range(150):
        check(seed, dynamic=True)


def test_the_crash_points_are_reached() -> None:
    """The fault injection above does crash mid-batch (else the tests prove little)."""
    rng = random.Random(1)
    rs = records(40, rng, dynamic=True)
    s3 = CrashingS3()
    c = core(s3, rng, dynamic=True)
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
