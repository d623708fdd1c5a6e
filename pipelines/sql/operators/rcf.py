"""``RANDOM_CUT_FOREST`` and ``RANDOM_CUT_FOREST_WITH_EXPLANATION`` over a cursor.

One row out per row in: the cursor's columns plus ``ANOMALY_SCORE`` (and the JSON
``ANOMALY_EXPLANATION``), each record scored by the forest *before* it joins it, with the
ROWTIME of the input row. The forest is one per input partition (KDA: one per application
copy of the input's parallelism), seeded from the application and pump names.

State in the changelog, so that a restored partition scores exactly as if it never stopped:

* a **checkpoint** of the whole forest (compressed msgpack, base64, in pieces of at most
  :data:`PIECE_CHARS` characters so that every changelog record stays far below Kafka's 1 MB)
  with a head ``{"pieces", "entries", "epoch"}``, written every ``checkpoint_points`` records;
* the **points since the checkpoint**, one entry per commit epoch ``{"first": n, "points":
  [...]}`` (``first``: how many points the forest had before them). A checkpoint deletes the
  entries it covers.

Restoring loads the checkpoint and replays the later points through ``update`` (scoring does
not change a forest, so the replay rebuilds it bit for bit).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from ground.errors import RestoreError, RowError
from pipelines.sql.ml.rcf import RandomCutForest, RcfParams, explanation_json
from pipelines.sql.operators.base import Context, StatefulOperator
from pipelines.sql.operators.cursor import Cursor, ResultQuery
from pipelines.sql.types import Row

__all__ = ["CHECKPOINT_POINTS", "PIECE_CHARS", "RandomCutForestOperator"]

#: Records between two checkpoints of the forest: a restore replays at most this many.
CHECKPOINT_POINTS = 20_000
#: Base64 characters per changelog record of a checkpoint.
PIECE_CHARS = 512 * 1024

_HEAD = ("head", 0)


class RandomCutForestOperator(StatefulOperator):
    def __init__(
        self,
        *,
        pump: str,
        params: RcfParams,
        cursor: Cursor,
        query: ResultQuery,
        explain: bool,
        with_directionality: bool,
        checkpoint_points: int = CHECKPOINT_POINTS,
    ) -> None:
        super().__init__(pump)
        self._params = params
        self._cursor = cursor
        self._query = query
        self._explain = explain
        self._directional = with_directionality
        self._columns = tuple(cursor.names[i] for i in cursor.numeric)
        self._checkpoint_every = checkpoint_points
        self._forest = RandomCutForest(params)
        self._count = 0  # points the forest has taken
        self._epoch = 0
        self._chunk: list[list[float]] = []  # this epoch's points since the last checkpoint
        self._chunk_first = 0
        self._logged: set[int] = set()  # epochs whose points are in the changelog
        self._since = 0  # points since the last checkpoint
        self._pieces: list[str] = []  # the checkpoint being committed
        self._head: dict[str, int] = {}
        self._stored_pieces = 0  # pieces of the checkpoint in the changelog
        self._restoring: dict[tuple[Any, ...], Any] = {}

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        # In three passes over the batch: the cursor's values and points, the forest (each
        # point scored, then added, in order), the result rows. A row the cursor fails is
        # reported in its place among the rows' own failures (pass three).
        cursor = self._cursor
        values_of, point_of = cursor.values, cursor.point
        taken: list[tuple[Row, tuple[Any, ...]] | tuple[Row, RowError]] = []
        points: list[list[float]] = []
        failed = False
        for row in rows:
            try:
                values = values_of(row)
                if values is None:
                    continue
                points.append(point_of(values))
            except RowError as exc:
                taken.append((row, exc))
                failed = True
                continue
            taken.append((row, values))
        if not points:
            for row, failure in taken:
                assert isinstance(failure, RowError)
                ctx.fail(self.pump, failure.name, failure.message, row)
            return []
        forest = self._forest
        if self._explain:
            columns, directional = self._columns, self._directional
            extras: list[tuple[Any, ...]] = []
            for point in points:
                score, attribution = forest.observe(point, explain=True)
                assert attribution is not None
                text = explanation_json(columns, attribution, with_directionality=directional)
                extras.append((score, text))
        else:
            extras = [(score,) for score in forest.observe_many(points)]
        self._count += len(points)
        self._since += len(points)
        self._chunk.extend(points)
        self.store.mark(("points", self._epoch))
        out: list[Row] = []
        emit = self._query.emit_many
        if failed:  # the failures in their places among the results' (from the outer query)
            extra = iter(extras)
            results: list[Row] = []
            for row, got in taken:
                if isinstance(got, RowError):
                    emit(results, out, ctx)
                    results = []
                    ctx.fail(self.pump, got.name, got.message, row)
                else:
                    results.append((row[0], *got, *next(extra)))
            emit(results, out, ctx)
        else:
            emit(
                [
                    (row[0], *values, *extra)  # type: ignore[misc]
                    for (row, values), extra in zip(taken, extras, strict=True)
                ],
                out,
                ctx,
            )
        if self._since >= self._checkpoint_every:
            self._checkpoint()
        return out

    # -- state --------------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        text = base64.b64encode(self._forest.to_bytes()).decode("ascii")
        self._pieces = [text[i : i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS)]
        self._head = {"pieces": len(self._pieces), "entries": self._count, "epoch": self._epoch}
        self.store.mark(_HEAD)
        for i in range(len(self._pieces)):
            self.store.mark(("piece", i))
        for i in range(len(self._pieces), self._stored_pieces):
            self.store.delete(("piece", i))
        self._stored_pieces = len(self._pieces)
        for epoch in self._logged:
            self.store.delete(("points", epoch))
        self._logged.clear()
        self.store.delete(("points", self._epoch))
        self._chunk = []
        self._chunk_first = self._count
        self._since = 0

    def snapshot(self, key: Any) -> Any:
        kind, index = key
        if kind == "points":
            return {"first": self._chunk_first, "points": self._chunk}
        if kind == "piece":
            return self._pieces[index]
        return self._head

    def end_epoch(self) -> None:
        """The runtime took this epoch's changes: later points go to a new entry."""
        if self._chunk:
            self._logged.add(self._epoch)
        self._epoch += 1
        self._chunk = []
        self._chunk_first = self._count
        self._pieces = []

    def restore(self, key: Any, value: Any) -> None:
        self._restoring[tuple(key)] = value

    def finish_restore(self) -> None:
        restoring, self._restoring = self._restoring, {}
        head = restoring.get(_HEAD)
        if head is not None:
            try:
                text = "".join(restoring[("piece", i)] for i in range(head["pieces"]))
            except KeyError as exc:
                raise RestoreError(f"{self.pump}: forest checkpoint lacks piece {exc}") from exc
            self._forest = RandomCutForest.from_bytes(self._params, base64.b64decode(text))
            self._count = head["entries"]
            self._stored_pieces = head["pieces"]
            self._epoch = head["epoch"] + 1
        chunks = sorted(
            ((value["first"], key[1], value["points"]) for key, value in restoring.items()
             if key[0] == "points"),
        )  # fmt: skip
        checkpoint = self._count
        for first, epoch, points in chunks:
            self._logged.add(epoch)
            self._epoch = max(self._epoch, epoch + 1)
            if first > self._count:
                raise RestoreError(
                    f"{self.pump}: forest points {self._count}..{first - 1} missing in the "
                    "changelog"
                )
            self._replay(points[self._count - first :])
        self._since = self._count - checkpoint
        self._chunk_first = self._count

    def _replay(self, points: Sequence[Sequence[float]]) -> None:
        update = self._forest.update
        for point in points:
            update(point)
        self._count += len(points)
