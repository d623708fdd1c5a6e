"""Runs the ticker pipeline in a Faust worker, in event time.

Per batch (``stream.take_events``) the agent decodes every record, admits it to its
partition's :class:`~pipelines.tumbling.PartitionWindows`, writes malformed and late
records to the error topic, and closes the windows the watermark has passed. A record
that joined an open window is *held*: its Faust message gets an extra reference, so the
batch's automatic ack does not release it. Once the window's result is confirmed written
to the output topic, the window's progress is written to a small changelog-backed table
and its records are acked — so Faust never commits an offset past a record whose window
is still open, and a restart rebuilds the open windows by replaying from the committed
offset, while :class:`~pipelines.tumbling.Progress` keeps already-emitted windows from
being emitted twice.

A timer closes the windows of a partition that received nothing for ``idle_timeout_ms``,
and, with ``until_idle_s``, stops the worker once everything is emitted and the input has
been quiet that long (the demo and tests use it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP, EventT

from pipelines.config import PipelineConfig
from pipelines.error_rows import LATE_RECORD, MALFORMED_RECORD, ErrorRow
from pipelines.stats import PriceStats
from pipelines.ticker import parse_ticker, render_result, result_key
from pipelines.tumbling import Admission, ClosedWindow, PartitionWindows, Progress
from shardline.errors import CodecError
from shardline.kafka import ensure_topics, partition_count

__all__ = ["PipelineRuntime", "PipelineStats", "build_app", "run_pipeline"]

log = logging.getLogger(__name__)

Decoder = Callable[[bytes], dict[str, Any]]


@dataclass(slots=True)
class PipelineStats:
    """Counters of one worker run; ``busy_s`` is time spent processing batches and emitting,
    ``first_s``/``last_s`` the monotonic times of the first and last batch."""

    records: int = 0
    malformed: int = 0
    late: int = 0
    replayed: int = 0
    duplicates: int = 0
    not_owned: int = 0
    windows_emitted: int = 0
    batches: int = 0
    busy_s: float = 0.0
    first_s: float = 0.0
    last_s: float = 0.0

    @property
    def records_per_s(self) -> float:
        span = self.last_s - self.first_s
        return self.records / span if span > 0 else 0.0


class PipelineRuntime:
    """The state and logic behind the Faust agent; one instance per worker process."""

    def __init__(
        self,
        config: PipelineConfig,
        app: faust.App,
        progress_table: Any,
        decode: Decoder,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.config = config
        self.app = app
        self.table = progress_table
        self.decode = decode
        self.clock = clock
        self.wall_ms = wall_ms
        self.lock = asyncio.Lock()
        self.partitions: dict[int, PartitionWindows[PriceStats]] = {}
        self.last_arrival: dict[int, float] = {}
        self.last_any_arrival = clock()
        self.assigned = False
        self.owned: set[int] = set()  # input partitions assigned to this worker now
        self.stats = PipelineStats()
        self.request_stop: Callable[[], None] = lambda: None

    # -- partitions ---------------------------------------------------------------
    def _windows(self, partition: int) -> PartitionWindows[PriceStats]:
        pw = self.partitions.get(partition)
        if pw is None:
            saved = self.table.data.get(str(partition))
            progress = Progress.from_json(saved) if saved else None
            pw = PartitionWindows(self.config.window_ms, self.config.grace_ms, PriceStats, progress)
            self.partitions[partition] = pw
            if progress:
                log.info("partition %d resumes after %s", partition, progress)
        return pw

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions were revoked: drop their open windows (the new owner replays them)."""
        for p in partitions:
            self.owned.discard(p)
            self.partitions.pop(p, None)
            self.last_arrival.pop(p, None)

    # -- the hot path ---------------------------------------------------------------
    async def process_batch(self, events: list[EventT]) -> None:
        errors: list[tuple[EventT, ErrorRow]] = []
        touched: set[int] = set()
        now = self.clock()
        if not self.stats.batches:
            self.stats.first_s = now
        self.stats.batches += 1
        for event in events:
            msg = event.message
            p = msg.partition
            if p not in self.owned:
                # Fetched before a rebalance moved the partition to another worker, and
                # already in the take buffer. The new owner replays it from the committed
                # offset; counting it here would emit a partial window, and acking it could
                # let a later owner's commit pass records that are still held. The extra
                # reference keeps the batch's automatic ack from reaching the consumer.
                msg.incref()
                self.stats.not_owned += 1
                continue
            touched.add(p)
            self.last_arrival[p] = now
            raw = msg.value if isinstance(msg.value, bytes) else bytes(msg.value or b"")
            self.stats.records += 1
            try:
                rec = parse_ticker(self.decode(raw), raw)
            except CodecError as exc:
                self.stats.malformed += 1
                errors.append((event, self._error(event, raw, MALFORMED_RECORD, exc.reason, None)))
                continue
            admission, state = self._windows(p).add(
                rec.ticker_symbol, rec.event_time_ms, msg.offset, event
            )
            if admission is Admission.ACCEPTED:
                assert state is not None
                state.add(rec.price)
                msg.incref()  # held until the window's result is written
            elif admission is Admission.DUPLICATE:
                self.stats.duplicates += 1
                if state is not None:
                    msg.incref()  # acked with its window, like the first copy
            elif admission is Admission.LATE:
                self.stats.late += 1
                wm = self.partitions[p].watermark_ms
                reason = (
                    f"event time {rec.event_time_ms} is behind the watermark {wm}: window closed"
                )
                errors.append(
                    (event, self._error(event, raw, LATE_RECORD, reason, rec.event_time_ms))
                )
            else:
                self.stats.replayed += 1
        if touched:
            self.last_any_arrival = now
        if errors:
            await self._send_errors(errors)
        for p in sorted(touched):
            pw = self.partitions.get(p)
            if pw is not None:
                await self._emit(p, pw, pw.close_due())
        self.stats.last_s = self.clock()
        self.stats.busy_s += self.stats.last_s - now

    async def close_idle(self) -> None:
        """Close the windows of partitions that are caught up and quiet.

        Quiet alone is not enough: while the group rebalances, or while the consumer is
        behind, no records arrive although more exist. A partition counts as idle only when
        no record arrived for ``idle_timeout_ms``, everything up to Kafka's high watermark
        was processed, and no rebalance is under way."""
        if getattr(self.app, "rebalancing", False):
            return
        now = self.clock()
        idle_s = self.config.idle_timeout_ms / 1000.0
        for p, pw in list(self.partitions.items()):
            if not pw.open_count or now - self.last_arrival.get(p, now) < idle_s:
                continue
            if not self._caught_up(p, pw):
                continue
            log.info("partition %d idle for %.1fs: closing %d windows", p, idle_s, pw.open_count)
            await self._emit(p, pw, pw.close_all())

    def _caught_up(self, partition: int, pw: PartitionWindows[PriceStats]) -> bool:
        try:
            highwater = self.app.consumer.highwater(TP(self.config.input_topic, partition))
        except Exception:  # no consumer yet, or the partition just moved
            return False
        return highwater is not None and pw.next_offset >= highwater

    def on_assigned(self, partitions: Iterable[int]) -> None:
        self.owned.update(partitions)
        self.assigned = True
        self.last_any_arrival = self.clock()

    def quiet_for(self) -> float:
        """Seconds since the last record arrived or partitions were assigned (0 before)."""
        return self.clock() - self.last_any_arrival if self.assigned else 0.0

    def open_windows(self) -> int:
        return sum(pw.open_count for pw in self.partitions.values())

    # -- output ---------------------------------------------------------------------
    def _error(self, event: EventT, raw: bytes, name: str, reason: str, ts: int | None) -> ErrorRow:
        msg = event.message
        return ErrorRow(
            error_time_ms=self.wall_ms(),
            error_name=name,
            message=reason,
            data_rowtime_ms=ts if ts is not None else int(msg.timestamp * 1000),
            data_row=raw,
            pump_name=self.config.app_id,
            source_topic=msg.topic,
            source_partition=msg.partition,
            source_offset=msg.offset,
        )

    async def _send_errors(self, errors: list[tuple[EventT, ErrorRow]]) -> None:
        producer = self.app.producer
        futures = []
        for event, row in errors:
            key = event.message.key if isinstance(event.message.key, bytes) else None
            futures.append(
                await producer.send(
                    self.config.error_topic,
                    key,
                    row.to_json_bytes(),
                    None,
                    None,
                    {"shardline.error": row.error_name.encode()},
                )
            )
        await asyncio.gather(*futures)

    async def _emit(
        self,
        partition: int,
        pw: PartitionWindows[PriceStats],
        closed: list[ClosedWindow[PriceStats]],
    ) -> None:
        if not closed:
            return
        producer = self.app.producer
        futures = []
        for cw in closed:
            symbol = str(cw.key)
            futures.append(
                await producer.send(
                    self.config.output_topic,
                    result_key(symbol, cw.window),
                    render_result(symbol, cw.window, cw.state),
                    None,
                    None,  # produce time: an old event time would fall to retention at once
                    None,
                )
            )
        await asyncio.gather(*futures)  # the results are in Kafka
        progress = pw.progress()
        key = str(partition)
        self.table.data[key] = progress.to_json()
        fut = self.table.send_changelog(partition, key, progress.to_json())
        await fut  # the progress is in the changelog
        for cw in closed:
            for token in cw.tokens:
                token.ack()  # type: ignore[attr-defined]
        self.stats.windows_emitted += len(closed)


def build_app(
    config: PipelineConfig,
    bootstrap: str,
    decode: Decoder,
    until_idle_s: float | None = None,
    *,
    datadir: str,
) -> tuple[faust.App, PipelineRuntime]:
    """Create the Faust app and its agent for ``config``; topics are checked/created here."""
    partitions = partition_count(bootstrap, config.input_topic)
    ensure_topics(bootstrap, [config.output_topic, config.error_topic], partitions)
    app = faust.App(
        config.app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=datadir,
        autodiscover=False,
        web_enabled=False,
        topic_partitions=partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        table_standby_replicas=0,
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        broker_max_poll_records=config.batch_max_records,
        stream_buffer_maxsize=max(4 * config.batch_max_records, 4096),
    )
    source = app.topic(config.input_topic, key_serializer="raw", value_serializer="raw")
    table = app.Table("progress", default=None, partitions=partitions)  # JSON keys and values
    runtime = PipelineRuntime(config, app, table, decode)

    @app.agent(source, name=f"{config.app_id}.windows")
    async def windows(stream: faust.StreamT) -> None:
        async for events in stream.take_events(  # type: ignore[attr-defined]
            config.batch_max_records, within=config.batch_within_ms / 1000
        ):
            async with runtime.lock:
                await runtime.process_batch(list(events))

    @app.timer(interval=0.5)
    async def housekeeping() -> None:
        async with runtime.lock:
            await runtime.close_idle()
        if (
            until_idle_s is not None
            and runtime.quiet_for() >= until_idle_s
            and runtime.open_windows() == 0
        ):
            await app.consumer.commit()  # the last acks, before the worker stops
            log.warning(
                "input quiet for %.1fs and all windows emitted: stopping (%s)",
                until_idle_s,
                runtime.stats,
            )
            runtime.request_stop()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    def _assigned(sender: Any, assigned: Any, **_: Any) -> None:
        runtime.on_assigned(tp.partition for tp in assigned if tp.topic == config.input_topic)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    def _revoked(sender: Any, revoked: Any, **_: Any) -> None:
        runtime.forget(tp.partition for tp in revoked if tp.topic == config.input_topic)

    return app, runtime


def run_pipeline(
    config: PipelineConfig,
    bootstrap: str,
    decode: Decoder,
    *,
    until_idle_s: float | None = None,
    loglevel: str = "warn",
    datadir: str,
) -> PipelineStats:
    """Run the pipeline in this process until stopped (SIGINT/SIGTERM) or, with
    ``until_idle_s``, until the input has been quiet that long and every window is out."""
    app, runtime = build_app(config, bootstrap, decode, until_idle_s, datadir=datadir)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    stopping: list[asyncio.Future[None]] = []

    def _request_stop() -> None:
        if not stopping:
            stopping.append(asyncio.ensure_future(worker.stop()))

    runtime.request_stop = _request_stop
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        log.warning("pipeline %s stopped: %s", config.app_id, runtime.stats)
    return runtime.stats
