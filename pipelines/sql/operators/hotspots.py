"""``HOTSPOTS`` over a cursor: one row out per row in, the cursor's columns plus
``HOTSPOTS_RESULT``, the JSON of the hotspots in the window of the last ``windowSize`` records
(see :mod:`pipelines.sql.ml.hotspots`). One window per input partition.

State: the window's points, one changelog entry per commit epoch ``{"first": arrival number,
"points": [...]}``; an entry is deleted once all of its points left the window. Restoring
concatenates the entries in arrival order and keeps the last ``windowSize`` points; the
detector rebuilt from them gives the same results as the one that never stopped.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ground.errors import RowError
from pipelines.sql.ml.hotspots import HotspotDetector, HotspotParams, hotspots_json
from pipelines.sql.operators.base import Context, StatefulOperator
from pipelines.sql.operators.cursor import Cursor, ResultQuery
from pipelines.sql.types import Row

__all__ = ["HotspotsOperator"]


class _Chunk:
    """The points of one epoch still in the window (``first``: the arrival number of the
    oldest of them)."""

    __slots__ = ("epoch", "first", "points")

    def __init__(self, epoch: int, first: int, points: list[list[float]]) -> None:
        self.epoch = epoch
        self.first = first
        self.points: deque[list[float]] = deque(points)


class HotspotsOperator(StatefulOperator):
    def __init__(
        self, *, pump: str, params: HotspotParams, cursor: Cursor, query: ResultQuery
    ) -> None:
        super().__init__(pump)
        self._params = params
        self._cursor = cursor
        self._query = query
        self._detector = HotspotDetector(params)
        self._chunks: deque[_Chunk] = deque()  # oldest first; the last is this epoch's
        self._epoch = 0
        self._last: tuple[Any, str] = (None, "")  # (hotspots list, its JSON)
        self._restoring: dict[int, Any] = {}

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        cursor, detector, query = self._cursor, self._detector, self._query
        window_size = self._params.window_size
        for row in rows:
            try:
                values = cursor.values(row)
                if values is None:
                    continue
                point = cursor.point(values)
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, row)
                continue
            arrival, full = detector.arrivals, len(detector) == window_size
            hotspots = detector.add(point)
            self._remember(point, arrival, evicted=full)
            last_list, last_json = self._last
            if hotspots is not last_list:  # the detector returns the same list when unchanged
                last_json = hotspots_json(hotspots)
                self._last = (hotspots, last_json)
            query.emit((row[0], *values, last_json), out, ctx)
        return out

    def _remember(self, point: list[float], arrival: int, *, evicted: bool) -> None:
        chunks = self._chunks
        if not chunks or chunks[-1].epoch != self._epoch:
            chunks.append(_Chunk(self._epoch, arrival, []))
        chunks[-1].points.append(point)
        self.store.mark(self._epoch)
        if evicted:  # the detector dropped its oldest point: so do we
            oldest = chunks[0]
            oldest.points.popleft()
            oldest.first += 1
            if not oldest.points:
                chunks.popleft()
                self.store.delete(oldest.epoch)

    # -- state --------------------------------------------------------------------------------
    def snapshot(self, key: Any) -> Any:
        chunk = self._chunks[-1]
        assert chunk.epoch == key
        return {"first": chunk.first, "points": list(chunk.points)}

    def end_epoch(self) -> None:
        self._epoch += 1

    def restore(self, key: Any, value: Any) -> None:
        self._restoring[int(key)] = value

    def finish_restore(self) -> None:
        restoring, self._restoring = self._restoring, {}
        entries = sorted(restoring.items(), key=lambda kv: kv[1]["first"])
        points: list[list[float]] = []
        owners: list[int] = []
        arrivals = 0
        for epoch, value in entries:
            first, chunk_points = value["first"], value["points"]
            points.extend(list(p) for p in chunk_points)
            owners.extend([epoch] * len(chunk_points))
            arrivals = max(arrivals, first + len(chunk_points))
            self._epoch = max(self._epoch, epoch + 1)
        keep = self._params.window_size
        points, owners = points[-keep:], owners[-keep:]
        self._detector = HotspotDetector.restore(self._params, points, arrivals)
        first_arrival = arrivals - len(points)
        self._chunks.clear()
        for offset, (point, epoch) in enumerate(zip(points, owners, strict=True)):
            if not self._chunks or self._chunks[-1].epoch != epoch:
                self._chunks.append(_Chunk(epoch, first_arrival + offset, []))
            self._chunks[-1].points.append(point)
        kept = {chunk.epoch for chunk in self._chunks}
        for epoch in restoring:
            if epoch not in kept:
                self.store.delete(epoch)  # all of its points have left the window
