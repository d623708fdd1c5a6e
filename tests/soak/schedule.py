"""The soak's fault schedule: drawn up front from one seed, so a seed replays it exactly.

A :class:`Fault` is one injection: its kind, its target (a worker role, a server, a proxy)
and when it starts and ends, in seconds from the start of the soak. :func:`plan` draws
faults at random gaps between the warm-up and the cool-down, sometimes two or three at the
same moment ("one or several at a time"), never two on one target at once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Fault", "Kind", "Targets", "plan"]


class Kind(StrEnum):
    KILL9 = "kill9"  # SIGKILL a worker; restarted after the fault's duration
    PAUSE = "pause"  # SIGSTOP a worker; SIGCONT after the duration
    BROKER = "broker"  # SIGKILL a Kafka node; restarted after the duration
    MINIO = "minio"  # SIGKILL MinIO; restarted after the duration
    ES_THROTTLE = "es_throttle"  # every bulk request answered 429/503 in turn
    ES_DOWN = "es_down"  # every bulk request refused, for longer than the retry duration
    DELAY = "delay"  # every answer of a proxy (MinIO or ES) delayed
    JOIN = "join"  # one more worker joins a group, and leaves (SIGTERM) after the duration
    MEMCAP = "memcap"  # a worker's address space capped just above its current size


#: a server killed is back only once restarted and healthy: no new fault on it before
RESTART_ALLOWANCE_S = {Kind.BROKER: 40.0, Kind.MINIO: 15.0}


@dataclass(frozen=True, slots=True)
class Fault:
    at_s: float
    kind: Kind
    target: str
    duration_s: float
    #: kind-specific: the delay of DELAY, the headroom of MEMCAP (MB)
    amount: float = 0.0

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s

    def describe(self) -> str:
        extra = f" amount={self.amount:g}" if self.amount else ""
        return (f"t={self.at_s:7.1f}s {self.kind.value:<11} {self.target:<10} "
                f"for {self.duration_s:5.1f}s{extra}")


@dataclass(frozen=True, slots=True)
class Targets:
    """What the faults may hit."""

    workers: Sequence[str]  # roles always running (killed, paused, capped)
    joiners: Sequence[str]  # roles that join and leave
    brokers: Sequence[str]  # Kafka nodes
    es_retry_s: float  # the ES delivery's retry duration (ES_DOWN outlasts it)
    weights: dict[Kind, float] = field(default_factory=lambda: {
        Kind.KILL9: 3, Kind.PAUSE: 2, Kind.BROKER: 2, Kind.MINIO: 1.5, Kind.ES_THROTTLE: 1,
        Kind.ES_DOWN: 1, Kind.DELAY: 1.5, Kind.JOIN: 1.5, Kind.MEMCAP: 1.5,
    })


def _draw(rng: random.Random, kind: Kind, targets: Targets, scale: float) -> tuple[str, float,
                                                                                   float]:
    """(target, duration_s, amount) of a fault of ``kind``; ``scale`` shortens the
    longest outages in short soaks."""
    if kind is Kind.KILL9:
        return rng.choice(targets.workers), rng.uniform(1, 8), 0.0
    if kind is Kind.PAUSE:
        return rng.choice(targets.workers), rng.uniform(3, 40 * scale), 0.0
    if kind is Kind.BROKER:
        return rng.choice(targets.brokers), rng.uniform(5, 25 * scale), 0.0
    if kind is Kind.MINIO:
        return "minio", rng.uniform(8, 45 * scale), 0.0
    if kind is Kind.ES_THROTTLE:
        return "es", rng.uniform(8, 45 * scale), 0.0
    if kind is Kind.ES_DOWN:
        return "es", targets.es_retry_s + rng.uniform(5, 25 * scale), 0.0
    if kind is Kind.DELAY:
        return rng.choice(["s3-proxy", "es-proxy"]), rng.uniform(15, 60 * scale), \
            round(rng.uniform(0.3, 3.0), 1)
    if kind is Kind.JOIN:
        return rng.choice(targets.joiners), rng.uniform(15, 90 * scale), 0.0
    assert kind is Kind.MEMCAP
    return rng.choice(targets.workers), rng.uniform(15, 40 * scale), float(rng.choice((8, 24, 64)))


def plan(seed: int, duration_s: float, targets: Targets, *, warmup_s: float,
         cooldown_s: float, mean_gap_s: float) -> list[Fault]:
    """The faults of a soak of ``duration_s``: the first after ``warmup_s``, none ending
    after ``duration_s - cooldown_s``; gaps of ``mean_gap_s`` on average; a target is never
    hit again before its previous fault ended (ES modes share the target ``es``; one Kafka
    node at most is down at a time)."""
    rng = random.Random(seed)
    kinds = list(targets.weights)
    weights = [targets.weights[k] for k in kinds]
    scale = min(1.0, max(0.3, duration_s / 1800))
    busy: dict[str, float] = {}
    out: list[Fault] = []
    t = warmup_s
    last = duration_s - cooldown_s
    while True:
        t += rng.uniform(0.3, 1.7) * mean_gap_s
        if t >= last:
            return out
        burst = 1 if rng.random() < 0.65 else rng.choice((2, 2, 3))
        for _ in range(burst):
            for _attempt in range(10):
                kind = rng.choices(kinds, weights)[0]
                target, duration, amount = _draw(rng, kind, targets, scale)
                duration = min(duration, last - t)
                key = "kafka" if kind is Kind.BROKER else target  # one node down at a time
                if busy.get(key, 0.0) <= t and duration >= 1:
                    busy[key] = t + duration + RESTART_ALLOWANCE_S.get(kind, 0.0)
                    out.append(Fault(round(t, 1), kind, target, round(duration, 1), amount))
                    break
