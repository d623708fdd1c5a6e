import asyncio

from connectors.core import (
    Batch,
    DontRetry,
    Rejected,
    Retry,
    RetryOptions,
    RetryPartial,
    deliver_batch,
)
from tests.unit.connectors.helpers import MemoryDestination, no_sleep, rec

BATCH = Batch.of([rec(o) for o in range(5)])
OPTS = RetryOptions(duration_ms=60_000, max_attempts=5)


def run(dest: MemoryDestination, options: RetryOptions = OPTS):
    return asyncio.run(deliver_batch(dest, BATCH, options, sleep=no_sleep))


def test_success_first_time() -> None:
    dest = MemoryDestination()
    result = run(dest)
    assert result.attempts == 1 and result.rejected == [] and result.delivered == 5


def test_retry_resends_the_whole_batch() -> None:
    dest = MemoryDestination(script=[lambda b: Retry("503"), lambda b: Retry("503")])
    result = run(dest)
    assert result.attempts == 3
    assert [len(b) for b in dest.sent] == [5, 5, 5]
    assert result.rejected == []


def test_retry_partial_resends_only_the_failed_records() -> None:
    dest = MemoryDestination(script=[
        lambda b: RetryPartial((b.records[1], b.records[3]), "429 on 2 items"),
        lambda b: RetryPartial((b.records[0],), "429 on 1 item"),  # offset 1
    ])
    result = run(dest)
    assert [[r.offset for r in b.records] for b in dest.sent] == [[0, 1, 2, 3, 4], [1, 3], [1]]
    assert result.rejected == [] and result.retries == 2


def test_permanent_items_are_rejected_once_and_not_retried() -> None:
    dest = MemoryDestination(script=[
        lambda b: RetryPartial((b.records[0],), "429",
                               (Rejected(b.records[2], "mapper_parsing_exception", "bad"),)),
    ])
    result = run(dest)
    assert [r.record.offset for r in result.rejected] == [2]
    assert dest.offsets == [0, 1, 2, 3, 4, 0]


def test_dont_retry_stops_at_once() -> None:
    dest = MemoryDestination(script=[
        lambda b: DontRetry(tuple(Rejected(r, "AccessDenied", "no") for r in b.records), "403")
    ])
    result = run(dest)
    assert result.attempts == 1
    assert [r.error_code for r in result.rejected] == ["AccessDenied"] * 5


def test_records_still_failing_when_retries_run_out_are_rejected_not_dropped() -> None:
    dest = MemoryDestination(script=[lambda b: Retry("SlowDown")] * 10)
    result = run(dest, RetryOptions(duration_ms=60_000, max_attempts=3))
    assert result.attempts == 3
    assert [r.record.offset for r in result.rejected] == [0, 1, 2, 3, 4]
    assert {r.error_code for r in result.rejected} == {"RetriesExhausted"}
    assert result.rejected[0].error_message == "SlowDown"


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    waits: list[float] = []

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    dest = MemoryDestination(script=[lambda b: Retry("x")] * 8)
    opts = RetryOptions(duration_ms=600_000, max_attempts=9, initial_backoff_ms=100,
                        max_backoff_ms=400)
    asyncio.run(deliver_batch(dest, BATCH, opts, sleep=record_sleep))
    assert len(waits) == 8
    assert all(0 <= w <= 0.4 for w in waits)
    assert len(set(waits)) > 1  # jittered
