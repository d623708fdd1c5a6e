"""The RANDOM_CUT_FOREST operator: one row out per row in, and a partition restored from its
(compacted) changelog at any commit gives exactly the rows of a run that never stopped —
across forest checkpoints, written in several pieces."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from pipelines.sql import state_codec as codec
from pipelines.sql.ml import RcfParams
from pipelines.sql.operators import rcf as rcf_module
from pipelines.sql.operators.base import Context
from pipelines.sql.operators.cursor import Cursor, ResultQuery
from pipelines.sql.operators.rcf import RandomCutForestOperator
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


def _rcf(explain: bool, checkpoint_points: int) -> RandomCutForestOperator:
    return RandomCutForestOperator(
        pump="P",
        params=RcfParams(2, number_of_trees=30, sub_sample_size=64, shingle_size=2, seed=5),
        cursor=_cursor("RANDOM_CUT_FOREST"),
        query=_query(6 if explain else 5),
        explain=explain,
        with_directionality=True,
        checkpoint_points=checkpoint_points,
    )


@pytest.mark.parametrize("explain", [False, True])
def test_rcf_restored_anywhere_gives_the_uninterrupted_rows(monkeypatch, explain: bool) -> None:
    monkeypatch.setattr(rcf_module, "PIECE_CHARS", 40_000)  # a checkpoint in several records
    rows = _rows(1200, seed=3)
    make = lambda: _rcf(explain, checkpoint_points=250)  # noqa: E731
    whole, whole_failures, _ = drive(make, rows, batch=70, crash_after=set())
    assert len(whole) == len(rows) - 1 - 6  # r13 filtered out; six NULL x fail
    assert whole_failures == [("Invalid_Argument", f"r{i}") for i in range(5, 1200, 211)]
    assert [r[1] for r in whole] == [r[1] for r in rows if r[1] != "r13" and r[2] is not None]
    assert any(r[4] > 0 for r in whole) and all(r[4] >= 0 for r in whole)
    if explain:
        explanation = json.loads(whole[-1][5])
        assert list(explanation) == ["x", "y"]
        total = sum(float(v["ATTRIBUTION_SCORE"]) for v in explanation.values())
        assert total == pytest.approx(whole[-1][4], abs=2e-4)
    # a crash right after the first commit, before and after checkpoints, twice in a row
    for crash_after in ({0}, {2, 3}, {4, 7, 8}, {9, 12, 16}):
        again, failures, largest = drive(make, rows, batch=70, crash_after=crash_after)
        assert again == whole  # scores compared exactly
        assert failures == whole_failures
        assert largest <= 40_000 + 200  # pieces, not one big record


def test_rcf_changelog_stays_small_between_checkpoints() -> None:
    rows = _rows(1000, seed=4)
    op = _rcf(False, checkpoint_points=400)
    ctx = Context("app", 0, 0)
    live: dict[bytes, bytes] = {}
    checkpoints, since_checkpoint = 0, 0
    for start in range(0, len(rows), 50):
        op.process(rows[start : start + 50], ctx)
        changes = op.store.take(op.snapshot)
        kinds_written = {codec.loads(k)[1][0] for k, v in changes if v is not None}
        if "head" in kinds_written:
            checkpoints, since_checkpoint = checkpoints + 1, 0
        else:
            since_checkpoint += 1
        for key, value in changes:
            if value is None:
                live.pop(key, None)
            else:
                live[key] = value
        op.end_epoch()
    kinds: dict[str, int] = {}
    for key in live:
        kind = codec.loads(key)[1][0]
        kinds[kind] = kinds.get(kind, 0) + 1
    # ~990 points: checkpoints after ~400 and ~800 points; the changelog holds one head, its
    # pieces, and one entry of points per commit since the last checkpoint — nothing older
    assert checkpoints == 2
    assert since_checkpoint >= 2
    assert kinds["head"] == 1
    assert kinds["points"] == since_checkpoint
