"""The fingerprint of what an application's internal topics hold (see
:mod:`pipelines.runtime.plan_record`).

It covers what decides how a repartition topic's records are written and read, and the
state of the stages behind one: for each repartition, its topic, the stage that reads it,
whether rows or partial aggregates cross it, and what keys them (the grouping's columns,
the window left out, and the window's size and time for partials, and the key in the words
of format 1 — not ``sql explain``'s, which may change without changing the plan); for each
stage behind
one, its pumps (with their phase, streams, kind and what ``sql explain`` says of them); and
:data:`PLAN_FORMAT`, the version of what crosses a repartition and how it is partitioned.
Stage 0's stateless pumps, the outputs and the partition counts are left out (a partition
count that changed is refused by name when topics are prepared), so adding a filter pump
before a shuffle, or an output, needs no reset.

Not covered: a pump of stage 0 edited in place (its aggregates, its window size) keeps its
changelog, as it always did; its old state is read by the new code.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from pipelines.sql.plan import ApplicationPlan, PlannedPump
from pipelines.sql.planning import Grouping
from pipelines.sql.stages import Repartition, Topology

__all__ = ["PLAN_FORMAT", "plan_description", "plan_fingerprint"]

#: The version of what crosses a repartition (records, keys, partitioner) and of the state
#: behind it: a release that changes them bumps it, so its workers ask for a reset.
PLAN_FORMAT = 1


def plan_fingerprint(topology: Topology, plan: ApplicationPlan) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of what the module names: the same
    plan gives the same fingerprint in every process and release of the same format."""
    canonical = orjson.dumps(_facts(topology, plan), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


def plan_description(topology: Topology) -> list[str]:
    """One line per repartition, for the message of a worker whose plan differs."""
    return [
        f"{r.topic} ({_crossing(r)}, keyed by {r.key})" for r in topology.repartitions
    ]


def _crossing(r: Repartition) -> str:
    if r.partials:
        return "partial aggregates"
    return "rows judged late in front of it" if r.gated else "rows"


def _key_fact(r: Repartition, pump: PlannedPump | None) -> str:
    """The key of ``r`` as format 1 words it. Partial aggregates: as ``sql explain`` words
    it (:attr:`Repartition.key`). Rows: per input stream of the pump its grouping's columns,
    with a tumbling window's time key named ``window start`` — a name only, the window is
    not part of the record key, and ``sql explain`` no longer shows it."""
    if r.partials:
        return r.key
    assert pump is not None
    grouping = pump.grouping or tuple(Grouping((), ()) for _ in pump.sources)
    return "; ".join(
        f"{source}: {_grouping_text(g) or '(one partition)'}"
        for source, g in zip(pump.sources, grouping, strict=True)
    )


def _grouping_text(g: Grouping) -> str:
    return ", ".join(
        "window start" if i == g.window else (c or "an expression")
        for i, c in enumerate(g.columns)
    )


def _facts(topology: Topology, plan: ApplicationPlan) -> dict[str, Any]:
    pumps = {p.name: p for p in plan.pumps}
    repartitions = []
    for r in topology.repartitions:
        outbound = [
            {
                "stream": o.stream,
                "side": o.side,
                "columns": list(o.grouping.columns),
                "window": o.grouping.window,
                "size_ms": o.size_ms,
                "event_time": o.event_time,
                "from_stage": stage.index,
            }
            for stage, o in topology.writers(r)
        ]
        repartitions.append({
            "topic": r.topic, "pump": r.pump, "partials": r.partials, "stage": r.stage,
            "key": _key_fact(r, pumps.get(r.pump)), "outbound": outbound,
        })  # fmt: skip
    stages = []
    for stage in topology.stages:
        if stage.reads is None:
            continue
        steps = []
        for step in stage.steps:
            pump = pumps.get(step.pump)
            steps.append({
                "pump": step.pump, "role": step.role, "source": step.source,
                "right": step.right_source, "target": step.target,
                "kind": pump.kind if pump else "", "details": list(pump.details) if pump else [],
            })  # fmt: skip
        stages.append({"index": stage.index, "reads": stage.reads.topic, "steps": steps,
                       "inbound": list(stage.inbound)})  # fmt: skip
    return {"format": PLAN_FORMAT, "repartitions": repartitions, "stages": stages}
