"""Send one batch until every record is written or rejected: the classify → retry loop.

Backoff and the stop rule come from tenacity (full-jitter exponential backoff, stop before the
retry duration would be exceeded or after ``max_attempts``); what is retried is decided here:
the whole batch after :class:`Retry`, only the failed records after :class:`RetryPartial`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from connectors.core.destination import Destination
from connectors.core.outcome import DontRetry, Retry, RetryPartial, Successful
from connectors.core.records import Batch, Record, Rejected

__all__ = ["DeliveryResult", "OnEncode", "RetryOptions", "Sleep", "Timer", "deliver_batch"]

log = logging.getLogger(__name__)

DEFAULT_RETRY_DURATION_MS = 300_000  # Firehose RetryOptions.DurationInSeconds default
DEFAULT_INITIAL_BACKOFF_MS = 100
DEFAULT_MAX_BACKOFF_MS = 10_000
RETRIES_EXHAUSTED = "RetriesExhausted"
# Threads that encode batches, shared by every delivery of the process. Few on purpose: each
# thread that allocates big buffers gets its own glibc malloc arena, and the default pool
# (up to cpus + 4 threads) measured ~900 MB RSS for a 5 MB Elasticsearch delivery; two
# threads keep the overlap (~30k docs/s) at a third of that.
ENCODE_THREADS = 2
_ENCODERS = ThreadPoolExecutor(max_workers=ENCODE_THREADS, thread_name_prefix="encode")

Sleep = Callable[[float], Awaitable[None]]  # asyncio.sleep, or a test's
Timer = Callable[[], float]  # seconds, monotonic
OnEncode = Callable[[float, bool], None]  # (seconds, succeeded) per encode call


@dataclass(frozen=True, slots=True)
class RetryOptions:
    """How long to keep retrying transient failures, and how far apart."""

    duration_ms: int = DEFAULT_RETRY_DURATION_MS
    max_attempts: int | None = None
    initial_backoff_ms: int = DEFAULT_INITIAL_BACKOFF_MS
    max_backoff_ms: int = DEFAULT_MAX_BACKOFF_MS


@dataclass(slots=True)
class DeliveryResult:
    """What became of a batch: ``rejected`` records need a backup; the rest were written.

    ``attempts``: requests sent (retries included); ``writes``: those that wrote at least one
    record (an object for S3, a bulk request with indexed documents for Elasticsearch);
    ``attempted_records``: records sent over all attempts (a retried record counts again).
    """

    batch: Batch
    rejected: list[Rejected] = field(default_factory=list)
    attempts: int = 0
    writes: int = 0
    attempted_records: int = 0

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)

    @property
    def delivered(self) -> int:
        return len(self.batch) - len(self.rejected)

    @property
    def delivered_bytes(self) -> int:
        return self.batch.size_bytes - sum(r.record.size_bytes for r in self.rejected)


@dataclass(slots=True)
class _State:
    pending: tuple[Record, ...]
    reason: str = ""


async def deliver_batch(
    destination: Destination,
    batch: Batch,
    options: RetryOptions,
    *,
    sleep: Sleep = asyncio.sleep,
    on_encode: OnEncode | None = None,
    timer: Timer = time.perf_counter,
) -> DeliveryResult:
    """Encode, send and classify ``batch``, retrying what ``classify`` says is worth retrying.

    Records still failing when the retries run out are returned as rejected with
    ``error_code="RetriesExhausted"``; nothing is silently dropped. ``on_encode`` is told
    how long each ``encode`` call took (by ``timer``) and whether it returned.
    """
    result = DeliveryResult(batch)
    state = _State(pending=batch.records)

    async def attempt() -> _State:
        result.attempts += 1
        current = Batch.of(state.pending, cut=batch.cut_range)
        sent = len(current)
        result.attempted_records += sent
        # In an encoder thread: compression (zlib, cramjam) releases the GIL, so partitions
        # flushed together compress in parallel, and other sends go on meanwhile.
        request = await asyncio.get_running_loop().run_in_executor(
            _ENCODERS, _encode, destination, current, on_encode, timer)
        response = await destination.send(request)
        outcome = destination.classify(current, request, response)
        written = 0
        match outcome:
            case Successful():
                state.pending = ()
                written = sent
            case Retry(reason=reason):
                state.reason = reason
            case RetryPartial(records=records, reason=reason, rejected=rejected):
                state.pending, state.reason = records, reason
                result.rejected.extend(rejected)
                written = sent - len(records) - len(rejected)
            case DontRetry(rejected=rejected):
                state.pending = ()
                result.rejected.extend(rejected)
                written = sent - len(rejected)
        if written > 0:
            result.writes += 1
        return state

    stop: stop_base = stop_before_delay(options.duration_ms / 1000)
    if options.max_attempts is not None:
        stop = stop | stop_after_attempt(options.max_attempts)

    def before_sleep(rs: RetryCallState) -> None:
        log.info(
            "%s %s[%d]: retrying %d record(s) in %.2fs (attempt %d): %s",
            destination.name, batch.topic, batch.partition, len(state.pending),
            rs.upcoming_sleep, rs.attempt_number, state.reason,
        )

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait_random_exponential(
            multiplier=options.initial_backoff_ms / 1000, max=options.max_backoff_ms / 1000
        ),
        retry=retry_if_result(lambda s: bool(s.pending)),
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=lambda rs: state,  # out of retries: report, don't raise
    )
    await retrying(attempt)
    result.rejected.extend(
        Rejected(r, RETRIES_EXHAUSTED, state.reason or "retries exhausted") for r in state.pending
    )
    return result


def _encode(destination: Destination, batch: Batch, on_encode: OnEncode | None,
            timer: Timer) -> object:
    if on_encode is None:
        return destination.encode(batch)
    started = timer()
    try:
        request = destination.encode(batch)
    except BaseException:
        on_encode(timer() - started, False)
        raise
    on_encode(timer() - started, True)
    return request
