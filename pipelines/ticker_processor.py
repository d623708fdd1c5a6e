"""The ticker pipeline (``pipeline.yaml``) as a processor of the exactly-once runtime.

One :class:`TickerWindowsProcessor` per input partition: it decodes each record, admits it
to the partition's :class:`~pipelines.tumbling.PartitionWindows` (event time, watermark =
largest event time − grace), sends malformed and late records to the error topic as KDA
``error_stream`` rows with their original bytes, and emits a window's result once the
watermark has passed it (or, through ``on_idle``, once the partition has been caught up and
quiet for ``idle_timeout_ms``).

The runtime commits the outputs, the state changes and the input offsets in one Kafka
transaction, so after a crash or a rebalance the partition's new owner restores exactly the
state that goes with the committed offsets. The changelog holds:

- ``w<json [symbol, window start]>`` → ``[count, min, max, sum]`` for every open window
  (a tombstone once it is emitted),
- ``p`` → the partition's clock: ``closed_through_ms``, ``next_offset``, ``max_event_ms``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from ground.errors import CodecError
from pipelines.config import PipelineConfig
from pipelines.error_rows import LATE_RECORD, MALFORMED_RECORD, ErrorRow
from pipelines.runtime.records import OutRecord, SourceRecord
from pipelines.stats import PriceStats
from pipelines.ticker import parse_ticker, render_result, result_key
from pipelines.tumbling import Admission, ClosedWindow, PartitionWindows, Progress
from pipelines.windows import Window

__all__ = ["TickerWindowsProcessor"]

Decoder = Callable[[bytes], dict[str, Any]]

_CLOCK_KEY = b"p"
_WINDOW_PREFIX = b"w"


def _window_key(symbol: Hashable, window: Window) -> bytes:
    return _WINDOW_PREFIX + json.dumps([symbol, window.start_ms]).encode()


class TickerWindowsProcessor:
    """Implements :class:`~pipelines.runtime.records.PartitionProcessor` for one partition."""

    def __init__(
        self,
        config: PipelineConfig,
        partition: int,
        decode: Decoder,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.config = config
        self.partition = partition
        self.decode = decode
        self.wall_ms = wall_ms
        self.windows: PartitionWindows[PriceStats] = PartitionWindows(
            config.window_ms, config.grace_ms, PriceStats
        )
        self._dirty: set[tuple[Hashable, Window]] = set()
        self._closed: list[tuple[Hashable, Window]] = []
        self._clock_dirty = False

    # -- state -----------------------------------------------------------------------
    def restore(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        clock: dict[str, int] | None = None
        open_windows: list[tuple[str, Window, PriceStats]] = []
        size = self.config.window_ms
        for key, value in entries:
            if key == _CLOCK_KEY:
                clock = json.loads(value)
            elif key.startswith(_WINDOW_PREFIX):
                symbol, start = json.loads(key[len(_WINDOW_PREFIX):])
                count, low, high, total = json.loads(value)
                stats = PriceStats(int(count), float(low), float(high), float(total))
                open_windows.append((symbol, Window(int(start), int(start) + size), stats))
        progress = None
        if clock is not None:
            progress = Progress(int(clock["closed_through_ms"]), int(clock["next_offset"]))
        self.windows = PartitionWindows(size, self.config.grace_ms, PriceStats, progress)
        if clock is not None:
            self.windows.restore_clock(int(clock["max_event_ms"]))
        for symbol, window, stats in open_windows:
            self.windows.restore_open(symbol, window, stats)

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        changes: list[tuple[bytes, bytes | None]] = []
        for key, window in self._closed:
            changes.append((_window_key(key, window), None))
            self._dirty.discard((key, window))
        for key, window in self._dirty:
            s = self.windows.state_of(key, window)
            if s is not None:
                value = json.dumps([s.count, s.min, s.max, s.sum]).encode()
                changes.append((_window_key(key, window), value))
        if self._clock_dirty:
            w = self.windows
            clock = {
                "closed_through_ms": w.closed_through_ms,
                "next_offset": w.next_offset,
                "max_event_ms": w.max_event_ms,
            }
            changes.append((_CLOCK_KEY, json.dumps(clock).encode()))
        self._dirty.clear()
        self._closed.clear()
        self._clock_dirty = False
        return changes

    # -- records ---------------------------------------------------------------------
    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        out: list[OutRecord] = []
        windows, decode = self.windows, self.decode
        for r in batch:
            raw = r.value or b""
            try:
                rec = parse_ticker(decode(raw), raw)
            except CodecError as exc:
                out.append(self._error(r, MALFORMED_RECORD, exc.reason, None))
                continue
            admission, state = windows.add(rec.ticker_symbol, rec.event_time_ms, r.offset, None)
            if admission is Admission.ACCEPTED:
                assert state is not None
                state.add(rec.price)
                self._dirty.add(
                    (rec.ticker_symbol, windows.window_of(rec.event_time_ms))
                )
            elif admission is Admission.LATE:
                reason = (
                    f"event time {rec.event_time_ms} is behind the watermark "
                    f"{windows.watermark_ms}: window closed"
                )
                out.append(self._error(r, LATE_RECORD, reason, rec.event_time_ms))
        if batch:
            self._clock_dirty = True
        out.extend(self._emit(windows.close_due()))
        return out

    def on_idle(self, now_ms: int, idle_ms: int) -> list[OutRecord]:
        closed = self.windows.close_all()
        if closed:
            self._clock_dirty = True
        return self._emit(closed)

    def _emit(self, closed: list[ClosedWindow[PriceStats]]) -> list[OutRecord]:
        out = []
        for cw in closed:
            symbol = str(cw.key)
            self._closed.append((cw.key, cw.window))
            out.append(
                OutRecord(
                    self.config.output_topic,
                    result_key(symbol, cw.window),
                    render_result(symbol, cw.window, cw.state),
                    None,  # produce time: an old event time would fall to retention at once
                    self.partition,
                )
            )
        return out

    def _error(self, r: SourceRecord, name: str, reason: str, ts: int | None) -> OutRecord:
        row = ErrorRow(
            error_time_ms=self.wall_ms(),
            error_name=name,
            message=reason,
            data_rowtime_ms=ts if ts is not None else r.timestamp_ms,
            data_row=r.value or b"",
            pump_name=self.config.app_id,
            source_topic=r.topic,
            source_partition=r.partition,
            source_offset=r.offset,
        )
        return OutRecord(
            self.config.error_topic, r.key, row.to_json_bytes(), None, self.partition
        )
