"""Send one batch until every record is written or rejected: the classify → retry loop.

Backoff and the stop rule come from tenacity (full-jitter exponential backoff, stop before the
retry duration would be exceeded or after ``max_attempts``); what is retried is decided here:
the whole batch after :class:`Retry`, only the failed records after :class:`RetryPartial`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
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

from connectors.core.outcome import Destination, DontRetry, Retry, RetryPartial, Successful
from connectors.core.records import Batch, Record, Rejected

__all__ = ["DeliveryResult", "RetryOptions", "deliver_batch"]

log = logging.getLogger(__name__)

DEFAULT_RETRY_DURATION_MS = 300_000  # Firehose RetryOptions.DurationInSeconds default
DEFAULT_INITIAL_BACKOFF_MS = 100
DEFAULT_MAX_BACKOFF_MS = 10_000
RETRIES_EXHAUSTED = "RetriesExhausted"

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryOptions:
    """How long to keep retrying transient failures, and how far apart."""

    duration_ms: int = DEFAULT_RETRY_DURATION_MS
    max_attempts: int | None = None
    initial_backoff_ms: int = DEFAULT_INITIAL_BACKOFF_MS
    max_backoff_ms: int = DEFAULT_MAX_BACKOFF_MS


@dataclass(slots=True)
class DeliveryResult:
    """What became of a batch: ``rejected`` records need a backup; the rest were written."""

    batch: Batch
    rejected: list[Rejected] = field(default_factory=list)
    attempts: int = 0

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)

    @property
    def delivered(self) -> int:
        return len(self.batch) - len(self.rejected)


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
) -> DeliveryResult:
    """Encode, send and classify ``batch``, retrying what ``classify`` says is worth retrying.

    Records still failing when the retries run out are returned as rejected with
    ``error_code="RetriesExhausted"``; nothing is silently dropped.
    """
    result = DeliveryResult(batch)
    state = _State(pending=batch.records)

    async def attempt() -> _State:
        result.attempts += 1
        current = Batch.of(state.pending)
        request = destination.encode(current)
        response = await destination.send(request)
        outcome = destination.classify(current, request, response)
        match outcome:
            case Successful():
                state.pending = ()
            case Retry(reason=reason):
                state.reason = reason
            case RetryPartial(records=records, reason=reason, rejected=rejected):
                state.pending, state.reason = records, reason
                result.rejected.extend(rejected)
            case DontRetry(rejected=rejected):
                state.pending = ()
                result.rejected.extend(rejected)
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
