"""HOTSPOTS: planted dense squares are found, every window's hotspots equal a brute-force
DBSCAN over that window, and a detector rebuilt from its window continues identically."""

from __future__ import annotations

import json
import math
import random

import pytest

from pipelines.sql.ml import HotspotDetector, HotspotParams, hotspots_json


def guide_points(n: int, *, seed: int) -> list[tuple[float, float, bool]]:
    """The developer guide's generator: 20 % of the points in a 1x1 square that moves every
    1,000 points, the rest uniform on [0, 10)²."""
    rng = random.Random(seed)
    out = []
    hx = hy = 0.0
    for i in range(n):
        if i % 1000 == 0:
            hx, hy = rng.random() * 9, rng.random() * 9
        if rng.random() < 0.2:
            out.append((hx + rng.random(), hy + rng.random(), True))
        else:
            out.append((rng.random() * 10, rng.random() * 10, False))
    return out


def dbscan(window: list[tuple[float, ...]], eps: float, min_points: int) -> list[tuple]:
    """Textbook DBSCAN, quadratic; a border point joins the cluster of its oldest core."""
    n = len(window)
    near = [[j for j in range(n) if math.dist(window[i], window[j]) <= eps] for i in range(n)]
    core = [len(near[i]) >= min_points for i in range(n)]
    label = [-1] * n
    clusters = 0
    for i in range(n):
        if core[i] and label[i] < 0:
            label[i], stack = clusters, [i]
            while stack:
                for v in near[stack.pop()]:
                    if core[v] and label[v] < 0:
                        label[v] = clusters
                        stack.append(v)
            clusters += 1
    for i in range(n):
        cores = [j for j in near[i] if core[j]]
        if not core[i] and cores:
            label[i] = label[min(cores)]
    out = []
    for c in range(clusters):
        pts = [window[i] for i in range(n) if label[i] == c]
        low = tuple(min(p[k] for p in pts) for k in range(len(pts[0])))
        high = tuple(max(p[k] for p in pts) for k in range(len(pts[0])))
        volume = math.prod(h - lo if h > lo else eps for lo, h in zip(low, high, strict=True))
        out.append((len(pts) / volume, len(pts), low, high))
    return sorted(out, key=lambda h: (-h[0], h[2], h[3]))


def _as_tuples(hotspots) -> list[tuple]:
    return [(h.density, h.count, h.min_values, h.max_values) for h in hotspots]


def test_finds_the_guides_planted_hotspot() -> None:
    points = guide_points(4000, seed=5)
    detector = HotspotDetector(HotspotParams(2, 1000, 0.2, 17))
    results = [detector.add(p[:2]) for p in points]
    for end in (999, 1999, 2999, 3999):  # a window that holds one square's 1,000 points
        hot = [p for p in points[end - 999 : end + 1] if p[2]]
        hx = (min(p[0] for p in hot), max(p[0] for p in hot))
        hy = (min(p[1] for p in hot), max(p[1] for p in hot))
        top = results[end][0]
        assert top.count >= 0.8 * len(hot)
        assert hx[0] - 0.2 <= top.min_values[0] and top.max_values[0] <= hx[1] + 0.2
        assert hy[0] - 0.2 <= top.min_values[1] and top.max_values[1] <= hy[1] + 0.2
        # the square is far denser than the uniform background (10 points per unit area)
        assert top.density > 10 * 10
        assert all(h.density < top.density for h in results[end][1:])


def test_uniform_noise_has_no_hotspot() -> None:
    rng = random.Random(3)
    detector = HotspotDetector(HotspotParams(2, 500, 0.2, 17))
    assert all(not detector.add((rng.random() * 10, rng.random() * 10)) for _ in range(2000))


@pytest.mark.parametrize(("window", "eps", "min_points"), [(300, 0.3, 10), (100, 0.5, 4)])
def test_every_window_equals_brute_force_dbscan(window: int, eps: float, min_points: int) -> None:
    points = [p[:2] for p in guide_points(1500, seed=9)]
    detector = HotspotDetector(HotspotParams(2, window, eps, min_points))
    for i, point in enumerate(points):
        got = _as_tuples(detector.add(point))
        if i % 37 == 0 or window - 3 <= i <= window + 3:
            expected = dbscan(points[max(0, i - window + 1) : i + 1], eps, min_points)
            assert [(pytest.approx(d, rel=1e-12), *rest) for d, *rest in expected] == got


def test_one_dimension_and_three() -> None:
    rng = random.Random(4)
    for dims in (1, 3):
        detector = HotspotDetector(HotspotParams(dims, 200, 0.25, 8))
        points = [
            tuple(rng.gauss(5.0, 0.1) if rng.random() < 0.3 else rng.random() * 10
                  for _ in range(dims))
            for _ in range(600)
        ]  # fmt: skip
        for i, point in enumerate(points):
            got = _as_tuples(detector.add(point))
            if i % 50 == 0:
                expected = dbscan(points[max(0, i - 199) : i + 1], 0.25, 8)
                assert [(pytest.approx(d, rel=1e-12), *rest) for d, *rest in expected] == got
        assert got and got[0][2] < (5.0,) * dims < got[0][3]


def test_a_restored_detector_continues_identically() -> None:
    params = HotspotParams(2, 400, 0.3, 9)
    points = [p[:2] for p in guide_points(2500, seed=12)]
    whole = HotspotDetector(params)
    expected = [_as_tuples(whole.add(p)) for p in points]
    for cut in (5, 400, 1234):
        first = HotspotDetector(params)
        for p in points[:cut]:
            first.add(p)
        restored = HotspotDetector.restore(params, first.window(), first.arrivals)
        assert restored.window() == first.window()
        assert [_as_tuples(restored.add(p)) for p in points[cut:]] == expected[cut:]


def test_hotspots_json_is_kdas_shape() -> None:
    detector = HotspotDetector(HotspotParams(2, 100, 1.0, 3))
    for p in [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (9.0, 9.0)]:
        hotspots = detector.add(p)
    assert json.loads(hotspots_json(hotspots)) == {
        "hotspots": [{"density": 3 / 0.25, "minValues": [0.0, 0.0], "maxValues": [0.5, 0.5]}]
    }
    assert hotspots_json([]) == '{"hotspots":[]}'


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_size": 99}, "windowSize"),
        ({"window_size": 1001}, "windowSize"),
        ({"scan_radius": 0.0}, "scanRadius"),
        ({"scan_radius": float("nan")}, "scanRadius"),
        ({"min_points": 1}, "minimumNumberOfPointsInAHotspot"),
        ({"dimensions": 0}, "numeric column"),
    ],
)
def test_arguments_out_of_range_are_refused(kwargs: dict, message: str) -> None:
    args = {"dimensions": 2, "window_size": 1000, "scan_radius": 0.2, "min_points": 17, **kwargs}
    with pytest.raises(ValueError, match=message):
        HotspotParams(**args)
