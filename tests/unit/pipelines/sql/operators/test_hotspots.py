"""The HOTSPOTS operator: one row out per row in, and a partition restored from its
(compacted) changelog at any commit gives exactly the rows of a run that never stopped; the
changelog keeps the window, not what left it."""

from __future__ import annotations

import json
import random
from typing import Any

from pipelines.sql import state_codec as codec
from pipelines.sql.ml import HotspotParams
from pipelines.sql.operators.base import Context
from pipelines.sql.operators.cursor import Cursor, ResultQuery
from pipelines.sql.operators.hotspots import HotspotsOperator
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.ml_cases import drive


def _rows(n: int, *, seed: int) -> list[tuple[Any, ...]]:
    """(ROWTIME, label, x, y): x and y Gaussian, with a NULL now and then."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        x = None if i % 211 == 5 else rng.gauss(0, 1)
        rows.append((Timestamp(1_000 * i), f"r{i}", x, rng.gauss(3, 2)))
    return rows


def _cursor(function: str) -> Cursor:
    return Cursor(
        function,
        where=lambda row: row[1] != "r13",
        columns=(lambda row: row[1], lambda row: row[2], lambda row: row[3]),
        names=("label", "x", "y"),
        numeric=(1, 2),
    )


def _query(width: int) -> ResultQuery:
    return ResultQuery("P", None, tuple((lambda r, i=i: r[i]) for i in range(1, width)))


def _hotspots() -> HotspotsOperator:
    return HotspotsOperator(
        pump="P",
        params=HotspotParams(2, 100, 0.8, 6),
        cursor=_cursor("HOTSPOTS"),
        query=_query(5),
    )


def test_hotspots_restored_anywhere_gives_the_uninterrupted_rows() -> None:
    rows = _rows(700, seed=6)
    whole, whole_failures, _ = drive(_hotspots, rows, batch=45, crash_after=set())
    assert len(whole) == len(rows) - 1 - 4
    assert whole_failures == [("Invalid_Argument", f"r{i}") for i in range(5, 700, 211)]
    assert any(json.loads(r[4])["hotspots"] for r in whole)
    for crash_after in ({0}, {1, 2}, {3, 9}, {5, 6, 7, 14}):
        again, failures, _ = drive(_hotspots, rows, batch=45, crash_after=crash_after)
        assert again == whole
        assert failures == whole_failures


def test_hotspots_changelog_forgets_chunks_that_left_the_window() -> None:
    rows = _rows(1000, seed=8)
    op = _hotspots()
    ctx = Context("app", 0, 0)
    live: dict[bytes, bytes] = {}
    for start in range(0, len(rows), 30):
        op.process(rows[start : start + 30], ctx)
        for key, value in op.store.take(op.snapshot):
            if value is None:
                live.pop(key, None)
            else:
                live[key] = value
        op.end_epoch()
    stored = sum(len(codec.loads(v)["points"]) for v in live.values())
    assert 100 <= stored < 100 + 30  # the window and at most one partly left chunk
