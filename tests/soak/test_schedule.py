"""The soak's plan and numbers, offline: a seed replays its schedule; the trend is a slope."""

from __future__ import annotations

from tests.soak.monitor import Sample, longest_stall_s, recovery_s
from tests.soak.schedule import Kind, Targets, plan
from tests.soak.stats import percentile, trend

TARGETS = Targets(workers=["sql-1", "sql-2", "s3-1", "es-1"], joiners=["sql-3"],
                  brokers=["kafka-1", "kafka-2", "kafka-3"], es_retry_s=15)


def hour(seed: int) -> list:
    return plan(seed, 3600, TARGETS, warmup_s=200, cooldown_s=150, mean_gap_s=72)


def test_a_seed_replays_its_schedule_and_another_seed_does_not() -> None:
    assert hour(7) == hour(7)
    assert hour(7) != hour(8)


def test_an_hour_has_enough_faults_of_enough_kinds_inside_its_window() -> None:
    faults = hour(7)
    assert len(faults) >= 30 and len({f.kind for f in faults}) >= 5
    assert all(200 <= f.at_s and f.end_s <= 3600 - 150 for f in faults)
    assert any(a.at_s == b.at_s for a, b in zip(faults, faults[1:], strict=False))  # bursts


def test_no_target_is_hit_twice_at_once_and_one_broker_is_down_at_most() -> None:
    for seed in range(20):
        faults = hour(seed)
        for i, a in enumerate(faults):
            for b in faults[i + 1:]:
                if b.at_s < a.end_s:
                    assert a.target != b.target, (seed, a, b)
                    assert not (a.kind is Kind.BROKER and b.kind is Kind.BROKER), (seed, a, b)


def test_es_down_outlasts_the_retry_duration() -> None:
    downs = [f for s in range(10) for f in hour(s) if f.kind is Kind.ES_DOWN]
    assert downs and all(f.duration_s > 15 for f in downs)


def test_trend_is_the_least_squares_slope_after_warmup() -> None:
    flat = [(t, 100.0 + (t % 3)) for t in range(0, 3600, 5)]
    assert abs(trend(flat, 120).slope_mb_per_h) < 1  # type: ignore[union-attr]
    growing = [(t, 100.0 + t / 60) for t in range(0, 3600, 5)]  # +1 MB a minute
    t = trend(growing, 120)
    assert t is not None and abs(t.slope_mb_per_h - 60) < 1e-6 and t.growth_mb > 55
    assert trend(growing[:3], 0) is None


def test_percentile_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile([3.0], 99) == 3


def test_recovery_and_stall_from_the_timeline() -> None:
    samples = [Sample(0, 100, 100, 50, 50, 50), Sample(2, 110, 100, 50, 50, 50),
               Sample(10, 120, 100, 55, 50, 50), Sample(12, 130, 125, 60, 60, 54),
               Sample(14, 140, 140, 70, 70, 70)]
    assert recovery_s(samples, 10) == 4  # at 10 s: input 120, output 55; all past at 14 s
    assert recovery_s(samples, 15) is None
    assert longest_stall_s(samples, 1, 12) == 10  # nothing committed from 0 to 10 s
