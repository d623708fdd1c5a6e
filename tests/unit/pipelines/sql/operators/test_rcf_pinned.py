"""Scores pinned: fixed seeded inputs through the forest, the operator and the guide's two
applications give exactly the scores (and explanations) the code gave when these digests were
written, so a faster path that changes one score, one bit of one, fails here.

The digests were computed by the forest's first path (``score`` then ``update``, one Python
call each per record, ``krcf`` 0.4.0). Each covers every value of its run (floats as
``float.hex``, explanations as their text); a few literal scores stand beside them to show
what a failure changed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from typing import Any

import pytest

from pipelines.sql.ml import RandomCutForest, RcfParams
from pipelines.sql.operators.base import Context
from pipelines.sql.operators.cursor import Cursor, ResultQuery
from pipelines.sql.operators.rcf import RandomCutForestOperator
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.ml_cases import (
    ANOMALY,
    EXPLANATION,
    HEART,
    PRESSURE,
    blood_pressures,
    drive_engine,
    guide_plan,
    heart_rates,
)

SEED = 20_160_619


def _digest(values: Iterable[Any]) -> str:
    h = hashlib.sha256()
    for value in values:
        h.update((value.hex() if isinstance(value, float) else repr(value)).encode())
        h.update(b"\n")
    return h.hexdigest()[:32]


def _points(n: int, dims: int, *, seed: int) -> list[list[float]]:
    """Gaussian columns rounded to 0.01 (repeated values: trees then hold duplicates), with
    a spike up or down every 97 records."""
    rng = random.Random(seed)
    points = []
    for i in range(n):
        point = [round(rng.gauss(10.0 * c, 1.0 + c), 2) for c in range(dims)]
        if i % 97 == 50:
            point[i % dims] += 25.0 if i % 2 else -25.0
        points.append(point)
    return points


#: name -> (dims, numberOfTrees, subSampleSize, timeDecay, shingleSize): KDA's defaults,
#: a shingled forest, a fast-forgetting one
FORESTS = {
    "defaults": (1, 100, 256, 100_000, 1),
    "shingled": (3, 40, 64, 1_000, 4),
    "decaying": (2, 25, 32, 100, 1),
}
#: name -> (digest of the run, scores 200..203 as float.hex)
PINNED_FORESTS: dict[str, tuple[str, list[str]]] = {
    "defaults": (
        "3cb497ccaea1b0126614672367df9cbb",
        [
            "0x1.501551bc00eaap-1",
            "0x1.5c450ffeb4286p-1",
            "0x1.3fef7af7df34ap-1",
            "0x1.f308a554f6329p-1",
        ],
    ),
    "shingled": (
        "5875e407debdc75d66ec5588a5236dae",
        [
            "0x1.580639e633c3ep-1",
            "0x1.4fab0806ab9f5p-1",
            "0x1.2bc4a0ad74ed9p-1",
            "0x1.a36d2da4195a0p-1",
        ],
    ),
    "decaying": (
        "7d91d3295e87568b96c08dddbd8f1949",
        [
            "0x1.d58f2f883d576p-1",
            "0x1.0cda12d81f186p+0",
            "0x1.27fd4860d3186p+0",
            "0x1.5e0dd6af26913p+0",
        ],
    ),
}


def _params(name: str) -> RcfParams:
    dims, trees, sample, decay, shingle = FORESTS[name]
    return RcfParams(
        dims,
        number_of_trees=trees,
        sub_sample_size=sample,
        time_decay=decay,
        shingle_size=shingle,
        seed=SEED,
    )


@pytest.mark.parametrize("name", sorted(FORESTS))
def test_forest_scores_and_attributions_are_pinned(name: str) -> None:
    params = _params(name)
    points = _points(3000, params.dimensions, seed=len(name))
    forest = RandomCutForest(params)
    scores: list[float] = []
    values: list[Any] = []
    for i, point in enumerate(points):
        score, attribution = forest.observe(point, explain=i % 7 == 0)
        scores.append(score)
        values.append(score)
        for high, low in attribution or ():
            values += [high, low]
    digest, head = PINNED_FORESTS[name]
    assert [s.hex() for s in scores[200:204]] == head
    assert _digest(values) == digest
    # the batch path, in uneven batches, gives the very same scores
    batched = RandomCutForest(params)
    again = [s for i in range(0, 3000, 333) for s in batched.observe_many(points[i : i + 333])]
    assert again == scores


def _operator(explain: bool) -> RandomCutForestOperator:
    """Two numeric columns of three, a cursor WHERE, shingles of 2, a checkpoint inside."""
    return RandomCutForestOperator(
        pump="P",
        params=RcfParams(2, number_of_trees=30, sub_sample_size=64, shingle_size=2, seed=SEED),
        cursor=Cursor(
            "RANDOM_CUT_FOREST",
            where=lambda row: row[1] != "r13",
            columns=(lambda row: row[1], lambda row: row[2], lambda row: row[3]),
            names=("label", "x", "y"),
            numeric=(1, 2),
        ),
        query=ResultQuery("P", None, tuple((lambda r, i=i: r[i]) for i in range(1, 5 + explain))),
        explain=explain,
        with_directionality=True,
        checkpoint_points=500,
    )


#: explain -> digest of the operator's rows and failures
PINNED_OPERATOR = {
    False: "dba99e22621e08bd897dd66563ceee2a",
    True: "233422979d3a79c6d2d2ec8332ff598a",
}


@pytest.mark.parametrize("explain", [False, True])
def test_operator_rows_are_pinned(explain: bool) -> None:
    rng = random.Random(5)
    rows = []
    for i in range(1500):
        x = None if i % 211 == 5 else rng.gauss(0, 1)  # a NULL fails its row
        rows.append((Timestamp(1_000 * i), f"r{i}", x, rng.randint(0, 40) / 4))
    op, ctx, out = _operator(explain), Context("app", 0, 0), []
    for start in range(0, len(rows), 70):
        out.extend(op.process(rows[start : start + 70], ctx))
        op.store.take(op.snapshot)
        op.end_epoch()
    failures = [(f.name, f.row[1]) for f in ctx.failures]
    assert len(failures) == 8 and len(out) == 1500 - 1 - 8
    assert _digest([v for row in out for v in row] + failures) == PINNED_OPERATOR[explain]


#: application -> digest of its output rows
PINNED_GUIDE = {
    "anomaly_detection": "96efd823a5e27874873572fcc532ee7b",
    "anomaly_explanation": "cd66b94c1bc81fb71f9cffbc9bc68b05",
}


@pytest.mark.parametrize("app", sorted(PINNED_GUIDE))
def test_guide_application_rows_are_pinned(app: str) -> None:
    if app == "anomaly_detection":
        plan, records = guide_plan(ANOMALY, HEART), heart_rates(2500, seed=SEED)
    else:
        plan, records = guide_plan(EXPLANATION, PRESSURE), blood_pressures(2500, seed=SEED)
    out = drive_engine(plan, records, batch=500, crashes=set())
    assert len(out) == 2500
    assert _digest([v for _, row in out for v in row]) == PINNED_GUIDE[app]
