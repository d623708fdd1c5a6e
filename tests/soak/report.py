"""The soak's report: schedule, fault counts, recovery times, memory over time, verdict."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from tests.soak.monitor import longest_stall_s, recovery_s
from tests.soak.run import Outcome
from tests.soak.schedule import Kind
from tests.soak.stats import Trend, percentile, trend

__all__ = ["judge", "memory_problems", "render"]

#: RSS samples of a process's first this-many seconds are its warm-up (caches, buffers)
WARMUP_S = 120.0
#: a trend counts as growth once its slope adds more than this over the span …
GROWTH_MB = 24.0
#: … and more than this share of the process's median RSS
GROWTH_SHARE = 0.10
#: only processes observed this long after their warm-up are judged
JUDGED_SPAN_S = 600.0


def _trends(outcome: Outcome) -> list[tuple[str, int, Trend]]:
    assert outcome.supervisor is not None
    out = []
    for (name, pid), points in sorted(outcome.supervisor.rss.items()):
        t = trend(points, WARMUP_S)
        if t is not None:
            out.append((name, pid, t))
    return out


def memory_problems(outcome: Outcome) -> list[str]:
    """Processes whose RSS grew after warm-up (judged only over long enough spans)."""
    problems = []
    for name, pid, t in _trends(outcome):
        if name.startswith(("kafka", "minio")) or t.span_s < JUDGED_SPAN_S:
            continue  # servers: a JVM heap fills to its -Xmx by design
        median = sorted((t.first_mb, t.last_mb, t.min_mb, t.max_mb))[1]
        if t.growth_mb > GROWTH_MB and t.growth_mb > GROWTH_SHARE * median:
            problems.append(f"{name} (pid {pid}): +{t.growth_mb:.0f} MB over "
                            f"{t.span_s / 60:.0f} min ({t.slope_mb_per_h:+.1f} MB/h)")
    return problems


#: on a cluster, a broker kill may stop the SQL application's commits this long at most (the
#: leader elections of its partitions and of its coordinators)
CLUSTER_STALL_LIMIT_S = 30.0


def broker_stalls(outcome: Outcome) -> list[float]:
    chaos, progress = outcome.chaos, outcome.progress
    if chaos is None or progress is None:
        return []
    return [longest_stall_s(progress.samples, i.started_s, i.healed_s) for i in chaos.done
            if i.fault.kind is Kind.BROKER and i.healed_s is not None]


def judge(outcome: Outcome) -> None:
    """Beyond the oracles: memory growth (long runs), broker kills stopping a cluster, and
    faults that could not be injected, set ``outcome.failure``."""
    if outcome.failure is not None:
        return
    check_memory = outcome.options.check_memory
    if check_memory is None:
        check_memory = outcome.options.minutes >= 20
    reasons = []
    if check_memory and (problems := memory_problems(outcome)):
        reasons.append("memory grew: " + "; ".join(problems))
    if outcome.options.brokers >= 3:
        stalls = broker_stalls(outcome)
        if stalls and max(stalls) > CLUSTER_STALL_LIMIT_S:
            reasons.append(f"a broker kill stopped the SQL application for {max(stalls):.0f}s "
                           f"(limit {CLUSTER_STALL_LIMIT_S:.0f}s)")
    if outcome.chaos is not None and outcome.chaos.errors:
        reasons.append(f"{len(outcome.chaos.errors)} faults could not be injected or healed")
    if reasons:
        outcome.failure = "; ".join(reasons)


def _series(points: list[tuple[float, float]], columns: int = 12) -> str:
    """A few evenly spaced samples: ``t=…m:…MB``."""
    if len(points) <= columns:
        chosen = points
    else:
        step = (len(points) - 1) / (columns - 1)
        chosen = [points[round(i * step)] for i in range(columns)]
    return " ".join(f"{t / 60:.0f}m:{mb:.0f}" for t, mb in chosen)


def _reason(error: str) -> str:
    """An error line without what changes from one exit to the next."""
    error = re.sub(r"'soak-[^']*'|127\.0\.0\.1:\d+|\d+(\.\d+)?s\b", "…", error)
    return error[:150]


def render(outcome: Outcome, replay: Callable[[], str]) -> str:
    o = outcome.options
    lines = [f"# soak: {o.minutes:g} min, seed {o.seed}, {o.brokers} broker(s), "
             f"{o.rate:g} records/s", f"work folder: {outcome.workdir}", ""]
    chaos, progress = outcome.chaos, outcome.progress
    lines.append(f"## schedule ({len(outcome.schedule)} faults)")
    samples = progress.samples if progress else []
    recoveries: dict[Kind, list[float]] = {}
    never: list[str] = []
    stalls = []
    for fault in outcome.schedule:
        item = next((i for i in (chaos.done if chaos else []) if i.fault is fault), None)
        if item is None:
            lines.append(f"  {fault.describe()}  (not reached)")
            continue
        rec = recovery_s(samples, item.healed_s) if item.healed_s is not None else None
        if rec is None:
            never.append(fault.describe())
        else:
            recoveries.setdefault(fault.kind, []).append(rec)
        extra = ""
        if fault.kind is Kind.BROKER and item.healed_s is not None:
            stall = longest_stall_s(samples, item.started_s, item.healed_s)
            stalls.append(stall)
            others = " ".join(
                f"{st} {longest_stall_s(samples, item.started_s, item.healed_s, st):.0f}s"
                for st in ("s3", "es"))
            extra = f", longest commit stall while down: SQL {stall:.0f}s {others}"
        notes = "; ".join(item.notes)
        lines.append(f"  {fault.describe()}  pid={item.pid} "
                     f"recovered={'-' if rec is None else f'{rec:.0f}s'}{extra}"
                     + (f"  [{notes}]" if notes else ""))
    lines.append("")
    counts = Counter(f.kind.value for f in outcome.schedule if chaos and any(
        i.fault is f for i in chaos.done))
    lines.append(f"## fault counts: {sum(counts.values())} injected, {len(counts)} kinds: "
                 + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    every = [r for rs in recoveries.values() for r in rs]
    lines.append("## recovery (healed → everything there at that moment processed and "
                 "delivered; 2 s sampling)")
    if every:
        lines.append(f"  all: n={len(every)} p50={percentile(every, 50):.0f}s "
                     f"p99={percentile(every, 99):.0f}s max={max(every):.0f}s")
    for kind, rs in sorted(recoveries.items()):
        lines.append(f"  {kind.value:<11} n={len(rs)} p50={percentile(rs, 50):.0f}s "
                     f"p99={percentile(rs, 99):.0f}s max={max(rs):.0f}s")
    if never:
        lines.append(f"  not measured (no sample caught up before the end): {len(never)}")
    if stalls:
        lines.append(f"  broker kills: longest SQL commit stall while a node was down: "
                     f"max {max(stalls):.0f}s, p50 {percentile(stalls, 50):.0f}s")
    if outcome.supervisor is not None:
        sup = outcome.supervisor
        lines.append("## workers")
        for role in sup.roles.values():
            lines.append(f"  {role.name:<6} starts={role.starts} "
                         f"died-of-cap={len(role.cap_exits)} "
                         f"exited-by-itself={len(role.unexpected_exits)}")
        reasons = Counter(_reason(e[2]) for r in sup.roles.values() for e in r.unexpected_exits)
        if reasons:
            lines.append("  exits nobody asked for (restarted), by their error line:")
            lines += [f"    {n} × {reason}" for reason, n in reasons.most_common()]
        lines.append("## memory: RSS (MB) over time per process; trend after "
                     f"{WARMUP_S:.0f}s of warm-up")
        for name, pid, t in _trends(outcome):
            lines.append(f"  {name:<7} pid {pid:<7} span {t.span_s / 60:5.1f} min "
                         f"first {t.first_mb:5.0f} last {t.last_mb:5.0f} "
                         f"min {t.min_mb:5.0f} max {t.max_mb:5.0f} "
                         f"slope {t.slope_mb_per_h:+7.1f} MB/h")
        longest: dict[str, tuple[int, list[tuple[float, float]]]] = {}
        for (name, pid), points in sup.rss.items():
            if name not in longest or len(points) > len(longest[name][1]):
                longest[name] = (pid, points)
        lines.append("  samples of each role's longest-lived process (minute:MB):")
        for name, (_pid, points) in sorted(longest.items()):
            lines.append(f"    {name:<7} {_series(points)}")
        problems = memory_problems(outcome)
        lines.append("  growth: " + ("; ".join(problems) if problems else
                                     f"none (judged: spans >= {JUDGED_SPAN_S / 60:.0f} min, "
                                     f"growth > {GROWTH_MB:.0f} MB and > "
                                     f"{GROWTH_SHARE:.0%} of RSS)"))
    if chaos is not None and chaos.errors:
        lines.append("## fault injection errors")
        lines += [f"  {e}" for e in chaos.errors]
    lines.append("## verdict")
    lines.append(f"  produced {outcome.produced} (failed {outcome.produce_failed}); "
                 f"drained in {outcome.drain_s:.0f}s; stop codes {outcome.stop_codes}")
    v = outcome.verdict
    if v is not None:
        lines.append(f"  input {v.inputs}; windows {v.windows} and late rows {v.late_rows} = "
                     f"DuckDB, each once; results {v.results}: MinIO {v.in_minio} (each once); "
                     f"index {v.in_index} + failed-document backup {v.in_backup} "
                     f"(in both: {v.in_both}) = every result")
    if outcome.failure:
        lines.append(f"  FAILED: {outcome.failure}")
        lines.append(f"  replay: {replay()}")
    else:
        lines.append("  PASSED")
    return "\n".join(lines)
