"""One worker's transactional producer and its open transaction.

:class:`Transactions` owns the producer's life (created and initialised on the worker's
``transactional.id``, replaced when it cannot go on) and every transactional call: begin,
produce (outputs and changelog entries), ``send_offsets_to_transaction`` with the
consumer's group metadata, commit and abort. It knows nothing of partitions: what goes
into a commit is :class:`~pipelines.runtime.ownership.Ownership`'s business.

Failures come out in three kinds: retriable ones are retried until the operation timeout;
abortable ones raise :class:`Abortable` (the caller aborts, rewinds and replays); fatal
ones, and a call still blocked ``STUCK_GRACE_S`` after its own timeout (``deadline``),
raise :class:`~ground.errors.TransactionError`. ``init_transactions`` that times out is
retried on the same producer, never on a new one (:meth:`Transactions._init_transactions`).
A fatal error is recovered once with a new producer on the same ``transactional.id``
(:meth:`Transactions.reset`); a second one within ``RESET_MIN_INTERVAL_S`` stops the worker.
A call still blocked ``STUCK_GRACE_S`` after its own timeout raises
:class:`~ground.errors.StuckClientError` and stops the worker: its thread keeps the producer
alive for as long as the call blocks, possibly forever, and only a new process frees it
(``shardline run`` starts its process again; an abandoned producer per broker restart was a
leak of about 10 MB each).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ground.errors import StuckClientError, TransactionError
from ground.faults import faults
from ground.retention import RetentionWatch
from ground.startup import Backoff, StartupWait
from pipelines.runtime.config import RuntimeConfig
from pipelines.runtime.deadline import StuckCall, call_with_deadline
from pipelines.runtime.records import OutRecord, rowtime_headers
from pipelines.runtime.stats import RunStats

__all__ = [
    "ABORT_TIMEOUT_S",
    "RESET_MIN_INTERVAL_S",
    "STUCK_GRACE_S",
    "Abortable",
    "Transactions",
    "classify",
]

log = logging.getLogger(__name__)

#: an abort that takes longer than this means the producer is stuck: it is replaced
ABORT_TIMEOUT_S = 10.0
#: a transactional call still blocked this long after its own timeout is abandoned with its
#: producer (librdkafka's send_offsets_to_transaction can ignore its timeout: ``deadline``)
STUCK_GRACE_S = 10.0
#: a second fatal producer error sooner than this after a reset stops the worker
RESET_MIN_INTERVAL_S = 30.0
_FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


class Abortable(Exception):
    """A transactional call failed in a way that an abort (and replay) fixes."""


def classify(exc: KafkaException, what: str) -> Exception:
    """The exception to raise for a failed produce: fatal, or :class:`Abortable`."""
    err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    if err is None or err.fatal():
        return TransactionError(f"{what} failed fatally: {exc}")
    if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:  # a replay would only fail the same way
        return TransactionError(
            f"{what}: a record is larger than the topic or the producer accepts (raise the"
            f" topic's max.message.bytes): {exc}")
    return Abortable(f"{what}: {err}")


class Transactions:
    """The transactional producer of one worker and the state of its open transaction.

    ``make_producer(transactional_id)`` creates the client (the seam tests fake);
    :meth:`start` creates and initialises the first one. ``open``, ``started_ms`` (the
    injected clock's time at begin) and ``pending`` (records consumed and produced since
    begin) describe the open transaction.
    """

    def __init__(
        self,
        config: RuntimeConfig,
        stats: RunStats,
        make_producer: Callable[[str], Any],
        *,
        init_wait: StartupWait | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.application_id = config.application_id
        self.stats = stats
        self.make_producer = make_producer
        self.timeout_s = config.operation_timeout_ms / 1000
        wait = init_wait or StartupWait()
        #: how long ``init_transactions`` is retried on the same producer: the start-up wait,
        #: and at least the transaction timeout
        self.init_wait_s = max(config.transaction_timeout_ms, wait.wait_ms) / 1000
        self._init_backoff = (wait.first_backoff_ms, wait.max_backoff_ms)
        self._sleep = sleep
        self._monotonic = monotonic
        self.producer: Any = None
        self.transactional_id = ""
        self.open = False
        self.started_ms = 0
        self.pending = 0
        self._last_reset_s: float | None = None  # monotonic time of the last producer reset
        #: commit_transaction was called and did not succeed: the broker may have committed
        self.in_doubt = False
        #: the output topics that delete records by their timestamps (``topics``)
        self.retention = RetentionWatch((), writer=f"worker {config.application_id}")

    # -- the producer's life ---------------------------------------------------------------
    def start(self, transactional_id: str) -> None:
        self.transactional_id = transactional_id
        self.producer = self._new_producer()

    def _new_producer(self) -> Any:
        """A transactional producer for this worker's ``transactional.id``, initialised: its
        ``init_transactions`` aborts what a predecessor with the same id left open and
        fences that predecessor."""
        txn_id = self.transactional_id
        producer = self.make_producer(txn_id)
        log.info("worker %s: init_transactions (transactional.id %s)", self.application_id, txn_id)
        # Aborts whatever a predecessor with the same transactional.id left open.
        self._init_transactions(producer)
        return producer

    def _init_transactions(self, producer: Any) -> None:
        """``init_transactions`` on ``producer``; a retriable failure (it timed out: the
        coordinator is away, a broker restarting) is retried **on the same producer**, as
        librdkafka asks, with capped exponential backoff for up to ``init_wait_s``.

        A new producer instead would be fenced as soon as the timed-out call completes on
        the broker (it bumps the epoch past the new producer's): a fatal ``_FENCED`` that
        stops the worker. Fatal and other errors, and a call that never returns, raise
        TransactionError at once."""
        deadline = self._monotonic() + self.init_wait_s
        backoff = Backoff(*self._init_backoff)
        attempt = 0
        while True:
            attempt += 1
            call_s = max(1.0, min(self.timeout_s, deadline - self._monotonic()))
            try:
                call_with_deadline(
                    functools.partial(producer.init_transactions, call_s),
                    call_s + STUCK_GRACE_S,
                    "init_transactions",
                )  # fmt: skip
                return
            except StuckCall as exc:  # a call that ignores its timeout: nothing to retry on
                raise self._stuck_client(exc) from exc
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if err is None or err.fatal() or not err.retriable():
                    raise TransactionError(f"init_transactions failed: {exc}") from exc
                left_s = deadline - self._monotonic()
                if left_s <= 0:
                    raise TransactionError(
                        f"init_transactions: {err} (attempt {attempt}); gave up after "
                        f"{self.init_wait_s:g}s"
                    ) from exc
                pause_s = min(backoff.next_ms() / 1000, left_s)
                log.warning(
                    "worker %s: init_transactions (transactional.id %s): %s (attempt %d);"
                    " retrying on the same producer in %.1fs, for up to %.0fs more",
                    self.application_id, self.transactional_id, err, attempt, pause_s, left_s,
                )  # fmt: skip
                self.stats.init_retries += 1
                self._sleep(pause_s)

    def replace_producer(self, reason: str) -> None:
        """The producer cannot abort (e.g. after a broker restart its transaction needs an
        epoch bump it cannot get): drop it and start over with a new one on the same
        ``transactional.id``, which aborts the open transaction on the broker."""
        log.warning("replacing the transactional producer: %s", reason)
        old, self.producer = self.producer, None
        with contextlib.suppress(Exception):
            old.purge(in_queue=True, in_flight=False, blocking=False)
        del old
        self.producer = self._new_producer()
        self.stats.producer_resets += 1

    def _stuck_client(self, exc: StuckCall) -> StuckClientError:
        """The error that stops the worker after ``exc``: its thread holds the producer."""
        self.stats.stuck_calls += 1
        self.producer, self.open = None, False  # nothing more is asked of it
        return StuckClientError(
            f"{exc} (librdkafka #5456/#5511): the process must start again to free its"
            f" Kafka producer (transactional.id {self.transactional_id}); the next one"
            " resumes from the last commit"
        )

    def reset(self, exc: TransactionError) -> None:
        """After a fatal producer error (e.g. fenced after a broker restart bumped the
        epoch): forget the open transaction and replace the producer (the new one aborts it
        on the broker); the caller replays from the last commit. Twice within
        ``RESET_MIN_INTERVAL_S`` means another live worker holds this id: ``exc`` is
        raised again."""
        now = time.monotonic()
        if self._last_reset_s is not None and now - self._last_reset_s < RESET_MIN_INTERVAL_S:
            raise exc
        self._last_reset_s = now
        self.open = False
        self.replace_producer(str(exc))

    def close(self) -> None:
        if self.producer is not None:
            try:
                self.producer.flush(self.timeout_s)
            except Exception as exc:
                log.warning("closing producer: %s", exc)

    # -- transactional calls ---------------------------------------------------------------
    def call(self, fn: Callable[[], Any], what: str, *, abortable: bool = True) -> Any:
        """Run a transactional call: retry retriable errors until the operation timeout,
        raise :class:`Abortable` for abortable ones, TransactionError for fatal ones and
        StuckClientError for a call still blocked ``STUCK_GRACE_S`` after its timeout (see
        ``deadline``)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                return call_with_deadline(fn, self.timeout_s + STUCK_GRACE_S, what)
            except StuckCall as exc:
                # a librdkafka call that ignores its timeout: only a new process frees it
                raise self._stuck_client(exc) from exc
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if err is None or err.fatal():
                    raise TransactionError(f"{what} failed fatally: {exc}") from exc
                if err.retriable() and time.monotonic() < deadline:
                    log.warning("%s: %s; retrying", what, err)
                    time.sleep(0.1)
                    continue
                if abortable:
                    raise Abortable(f"{what}: {err}") from exc
                raise TransactionError(f"{what} failed: {exc}") from exc

    def begin(self, now_ms: int) -> None:
        if not self.open:
            self.call(self.producer.begin_transaction, "begin_transaction", abortable=False)
            self.open = True
            self.started_ms = now_ms
            self.pending = 0

    def commit(self, offsets: list[TopicPartition], consumer: Any) -> None:
        """Send ``offsets`` (with ``consumer``'s group metadata) and commit; raises
        :class:`Abortable` when an abort fixes the failure."""
        producer = self.producer
        if offsets:
            # on this thread: inside a rebalance callback the group metadata is not
            # served to another thread until the callback returns (a deadlock)
            group = consumer.consumer_group_metadata()
            send: Callable[[], Any] = functools.partial(
                producer.send_offsets_to_transaction, offsets, group, self.timeout_s
            )
            if faults.stuck_offsets_after and faults.stuck_offsets(self.stats.commits + 1):
                send = threading.Event().wait  # the fault suite's stuck call: never returns
            self.call(send, "send_offsets_to_transaction")
        self._commit_transaction(producer)
        self.open = False
        self.stats.commits += 1

    def _commit_transaction(self, producer: Any) -> None:
        """``commit_transaction`` until its outcome is known.

        Once asked to commit, the coordinator may commit although the call failed (it timed
        out while a broker restarted): the transaction is *in doubt* (``in_doubt``). An abort
        then does not undo it, and a replay from the last commit would write its results
        twice. So, as librdkafka asks, a retriable failure is retried **on the same
        producer** for up to ``init_wait_s``; only an error that requires an abort raises
        :class:`Abortable` (the coordinator did not commit). Anything else raises
        TransactionError with ``in_doubt`` still set: the producer is replaced (its
        successor's ``init_transactions`` completes or aborts the transaction on the
        broker) and the caller resumes from the offsets the broker committed
        (:meth:`~pipelines.runtime.ownership.Ownership.abort_and_rewind`)."""
        self.in_doubt = True
        deadline = self._monotonic() + self.init_wait_s
        backoff = Backoff(*self._init_backoff)
        while True:
            try:
                call_with_deadline(
                    lambda: producer.commit_transaction(self.timeout_s),
                    self.timeout_s + STUCK_GRACE_S, "commit_transaction",
                )  # fmt: skip
                if faults.lost_commit_reply_after and faults.lost_commit_reply(
                    self.stats.commits + 1
                ):  # the fault suite's lost reply: committed, but the caller cannot know
                    raise KafkaException(
                        KafkaError(KafkaError._TIMED_OUT, "injected: reply lost", retriable=True)
                    )
                break
            except StuckCall as exc:  # the next process resumes from what the broker says
                raise self._stuck_client(exc) from exc
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if err is not None and not err.fatal() and err.txn_requires_abort():
                    self.in_doubt = False
                    raise Abortable(f"commit_transaction: {err}") from exc
                left_s = deadline - self._monotonic()
                if err is None or err.fatal() or not err.retriable() or left_s <= 0:
                    raise TransactionError(
                        f"commit_transaction: {exc}; whether the transaction committed is"
                        " known once a new producer has fenced it"
                    ) from exc
                pause_s = min(backoff.next_ms() / 1000, left_s)
                log.warning(
                    "worker %s: commit_transaction: %s; retrying on the same producer in"
                    " %.1fs, for up to %.0fs more", self.application_id, err, pause_s, left_s,
                )  # fmt: skip
                self.stats.commit_retries += 1
                self._sleep(pause_s)
        self.in_doubt = False

    def abort(self, reason: str) -> None:
        if not self.open:
            return
        log.warning("aborting transaction: %s", reason)
        self.open = False
        self.stats.aborts += 1
        producer = self.producer
        limit_s = min(self.timeout_s, ABORT_TIMEOUT_S)
        try:
            call_with_deadline(
                lambda: producer.abort_transaction(limit_s), limit_s + STUCK_GRACE_S,
                "abort_transaction",
            )  # fmt: skip
        except StuckCall as exc:
            raise self._stuck_client(exc) from exc
        except KafkaException as exc:
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if err is not None and err.code() in _FENCED:
                raise TransactionError(f"abort_transaction: fenced: {exc}") from exc
            self.replace_producer(f"abort_transaction failed: {exc}")

    def abandon(self, reason: str) -> None:
        """The worker stops on a failure: abort what is open, best effort."""
        if self.producer is not None and self.open:
            try:
                self.abort(reason)
            except Exception as exc:  # the worker stops anyway; nothing was committed
                log.warning("abort after failure: %s", exc)
        self.open = False

    # -- the hot path ----------------------------------------------------------------------
    def write(self, outs: list[OutRecord]) -> None:
        """Outputs, each with its time in the ROWTIME header (and as its Kafka timestamp,
        which a LogAppendTime topic replaces with the append time)."""
        produce = self.producer.produce
        last_ts: int | None = None
        headers = None
        for topic, key, value, ts, partition in outs:
            if ts != last_ts:  # results of a batch often share their time
                last_ts, headers = ts, rowtime_headers(ts)
            try:
                produce(
                    topic, value, key, -1 if partition is None else partition, None, None,
                    ts or 0, headers,
                )  # fmt: skip
            except BufferError:
                self._produce_when_room(topic, key, value, ts, partition)
            except KafkaException as exc:
                raise classify(exc, f"produce to {topic}") from exc
        if self.retention.active:
            self.stats.past_retention += self.retention.count(
                (o.topic, o.timestamp_ms) for o in outs
            )
        self.stats.outputs += len(outs)
        self.pending += len(outs)

    def write_changes(
        self, topic: str, partition: int, changes: list[tuple[bytes, bytes | None]]
    ) -> None:
        """State changes of one source partition to its changelog partition."""
        produce = self.producer.produce
        for key, value in changes:
            try:
                produce(topic, value, key, partition)
            except BufferError:
                self._produce_when_room(topic, key, value, None, partition)
            except KafkaException as exc:
                raise classify(exc, f"produce to {topic}") from exc
        self.stats.changes += len(changes)

    def _produce_when_room(
        self, topic: str, key: bytes | None, value: bytes | None, ts: int | None, part: int | None
    ) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            self.producer.poll(0.05)
            try:
                self.producer.produce(
                    topic, value, key, -1 if part is None else part, None, None, ts or 0,
                    rowtime_headers(ts),
                )
                return
            except KafkaException as exc:
                raise classify(exc, f"produce to {topic}") from exc
            except BufferError:
                if time.monotonic() > deadline:
                    raise Abortable(f"producer queue full for {self.timeout_s}s") from None
