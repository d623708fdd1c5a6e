"""Robust Random Cut Forest: planted anomalies rank on top, attribution points at the right
column and direction, the state survives a serialise/restore bit for bit."""

from __future__ import annotations

import json
import random

import pytest

import pipelines.sql.ml as ml
from pipelines.sql.ml import RandomCutForest, RcfParams, explanation_json


def _stream(n: int, *, seed: int, dims: int = 1, every: int = 400, spike: float = 9.0):
    """Gaussian noise (sd 1) per column; every ``every``-th point (after the first 1,000) is a
    spike of ``spike`` in column ``i % dims``, alternately up and down."""
    rng = random.Random(seed)
    points, planted = [], set()
    for i in range(n):
        point = [rng.gauss(0.0, 1.0) for _ in range(dims)]
        if i >= 1000 and i % every == 0:
            k = i // every
            point[k % dims] = spike if k % 2 == 0 else -spike
            planted.add(i)
        points.append(point)
    return points, planted


def _run(forest: RandomCutForest, points, *, explain: bool = False):
    out = []
    for p in points:
        out.append((forest.score(p), forest.attribution(p) if explain else None))
        forest.update(p)
    return out


def test_public_names_sorted() -> None:
    assert ml.__all__ == sorted(ml.__all__)


@pytest.mark.parametrize("dims", [1, 3])
def test_planted_anomalies_score_above_the_99th_percentile(dims: int) -> None:
    points, planted = _stream(6000, seed=7, dims=dims)
    scores = [s for s, _ in _run(RandomCutForest(RcfParams(dims, seed=1)), points)]
    rest = sorted(scores[i] for i in range(1000, len(points)) if i not in planted)
    p99 = rest[int(0.99 * len(rest))]
    planted_scores = [scores[i] for i in sorted(planted)]
    assert len(planted_scores) == 12  # 1200, 1600, …, 5600
    assert min(planted_scores) > p99, (min(planted_scores), p99)
    # KDA's scale: typical records near 1 (the guide shows ~0.7), anomalies several times that
    assert 0.4 < rest[len(rest) // 2] < 1.5
    assert min(planted_scores) > 2 * rest[len(rest) // 2]


def test_scores_are_zero_while_the_forest_learns() -> None:
    points, _ = _stream(200, seed=3)
    scores = [s for s, _ in _run(RandomCutForest(RcfParams(1, seed=1)), points)]
    # the first 1 + subSampleSize / 4 records are scored by an empty-ish model: 0
    assert scores[:65] == [0.0] * 65
    assert all(s > 0 for s in scores[65:])


def test_same_seed_same_scores_other_seed_other_scores() -> None:
    points, _ = _stream(1500, seed=5, dims=2)
    a = _run(RandomCutForest(RcfParams(2, seed=42)), points)
    b = _run(RandomCutForest(RcfParams(2, seed=42)), points)
    c = _run(RandomCutForest(RcfParams(2, seed=43)), points)
    assert a == b
    assert a != c


@pytest.mark.parametrize(
    ("dims", "shingle", "cut"),
    [(1, 1, 10), (1, 1, 64), (1, 1, 700), (2, 3, 1), (2, 3, 333), (3, 1, 1200)],
)
def test_restored_forest_continues_bit_for_bit(dims: int, shingle: int, cut: int) -> None:
    params = RcfParams(dims, shingle_size=shingle, seed=9)
    points, _ = _stream(2000, seed=11, dims=dims)
    whole = _run(RandomCutForest(params), points, explain=True)

    first = RandomCutForest(params)
    head = _run(first, points[:cut], explain=True)
    restored = RandomCutForest.from_bytes(params, first.to_bytes())
    tail = _run(restored, points[cut:], explain=True)
    assert head + tail == whole  # floats compared exactly


def test_scoring_does_not_change_the_forest() -> None:
    """The operator rebuilds a forest by replaying updates alone."""
    params = RcfParams(2, seed=4)
    points, _ = _stream(800, seed=2, dims=2)
    scored, replayed = RandomCutForest(params), RandomCutForest(params)
    _run(scored, points, explain=True)
    for p in points:
        replayed.update(p)
    assert scored.to_bytes() == replayed.to_bytes()


def test_restore_refuses_other_parameters() -> None:
    forest = RandomCutForest(RcfParams(1, seed=1))
    with pytest.raises(ValueError, match="num_trees"):
        RandomCutForest.from_bytes(RcfParams(1, number_of_trees=50, seed=1), forest.to_bytes())


def test_attribution_names_the_spiking_column_and_its_direction() -> None:
    points, _ = _stream(3000, seed=8, dims=2, every=10**9)  # nothing planted
    forest = RandomCutForest(RcfParams(2, seed=3))
    _run(forest, points)
    for column, value, direction in ((1, 9.0, "HIGH"), (0, -9.0, "LOW")):
        spike = [0.0, 0.0]
        spike[column] = value
        score = forest.score(spike)
        attribution = forest.attribution(spike)
        assert sum(h + lo for h, lo in attribution) == pytest.approx(score, rel=1e-9)
        explained = json.loads(explanation_json(["a", "b"], attribution, with_directionality=True))
        mine, other = explained["ab"[column]], explained["ab"[1 - column]]
        assert mine["DIRECTION"] == direction
        assert float(mine["ATTRIBUTION_SCORE"]) > 3 * float(other["ATTRIBUTION_SCORE"])
        assert float(mine["STRENGTH"]) > 0.9 * float(mine["ATTRIBUTION_SCORE"])


def test_explanation_json_format() -> None:
    attribution = [(0.05, 0.3292), (1.2, 0.0)]
    text = explanation_json(["Systolic", "Diastolic"], attribution, with_directionality=True)
    assert text == (
        '{"Systolic":{"DIRECTION":"LOW","STRENGTH":"0.2792","ATTRIBUTION_SCORE":"0.3792"},'
        '"Diastolic":{"DIRECTION":"HIGH","STRENGTH":"1.2000","ATTRIBUTION_SCORE":"1.2000"}}'
    )
    plain = explanation_json(["Systolic", "Diastolic"], attribution, with_directionality=False)
    assert plain == (
        '{"Systolic":{"ATTRIBUTION_SCORE":"0.3792"},"Diastolic":{"ATTRIBUTION_SCORE":"1.2000"}}'
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"number_of_trees": 0}, "numberOfTrees"),
        ({"number_of_trees": 1001}, "numberOfTrees"),
        ({"sub_sample_size": 9}, "subSampleSize"),
        ({"sub_sample_size": 1001}, "subSampleSize"),
        ({"shingle_size": 0}, "shingleSize"),
        ({"shingle_size": 31}, "shingleSize"),
        ({"time_decay": 256}, "timeDecay"),
        ({"dimensions": 0}, "numeric column"),
    ],
)
def test_parameters_out_of_kda_ranges_are_refused(kwargs: dict, message: str) -> None:
    args = {"dimensions": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        RcfParams(**args)


def test_defaults_are_kdas() -> None:
    params = RcfParams(1)
    assert (params.number_of_trees, params.sub_sample_size) == (100, 256)
    assert (params.time_decay, params.shingle_size) == (100_000, 1)
    assert params.options()["lambda"] == 1e-5


def test_non_finite_values_are_refused() -> None:
    forest = RandomCutForest(RcfParams(1))
    with pytest.raises(ValueError, match="finite"):
        forest.update([float("nan")])
    with pytest.raises(ValueError, match="expected 1"):
        forest.score([1.0, 2.0])
