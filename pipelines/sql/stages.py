"""Stages of an application and the repartitions between them (Kafka Streams' sub-topologies
and repartition topics).

Window state lives in one partition: a stateful pump must see every row of a group in the
same partition. Its input is partitioned in a known way when the input topic is keyed
(``Inputs[].PartitionKey``) and the key columns were carried through the pumps before it
(:mod:`pipelines.sql.lineage`: renames and projections keep them, computations do not). A
pump whose keys include how its input is partitioned runs where its input is; any other
stateful pump gets a **repartition**: an internal topic ``<application>-<pump>-repartition``
keyed by its grouping, written in the stage of its input and read by a new stage, which the
pump and the pumps after it (as long as they need no other repartition) run in.

A stream can also be in **one partition**: every row of it in one partition of one stage. So
is what a pump writes behind a repartition whose records all have one key (rows of a pump
that needs the whole stream — an ORDER BY, a model over the stream, a global window on rows
— or the partial aggregates of a global ROWTIME window, merged in one partition), and what
the pumps of that stage write from it. A stateful pump reading such a stream, whatever its
keys (or none), runs where it is: another shuffle would move every row to one partition
again.

Two kinds cross a repartition:

* **partial aggregates**, for tumbling windows whose aggregates merge and for
  ``TOP_K_ITEMS_TUMBLING`` / ``COUNT_DISTINCT_ITEMS_TUMBLING``: each input partition
  aggregates its rows (:class:`~pipelines.sql.operators.two_phase.TumblingPartial`), the
  stage behind merges them (``…Final``) — keyed by the non-window group keys, or by the window
  start when there are none (a global window);
* **rows**, for the other stateful pumps (stream-to-stream joins, stagger and sliding
  windows, windows with FIRST_VALUE/LAST_VALUE): the stage behind orders them by ROWTIME
  before its operators see them (:mod:`pipelines.sql.shuffle`). A join's two inputs go to the
  same repartition topic, each keyed by its side of the equi-join keys: co-partitioned. The
  rows of an event-time tumbling window first pass a *gate* in the stage of its input, which
  decides late rows per input partition, as without the repartition
  (:mod:`pipelines.sql.operators.late_gate`); the window behind closes on the frontier the
  gates send.

A stream several pumps write may be written in several stages (a filter's rows in stage 0, a
window's results behind a repartition; a ``UNION ALL`` whose branches need different
repartitions). A stateful pump that reads it gets a repartition that every stage writing it
feeds (:attr:`Repartition.gathered`; each of their partitions is one upstream channel, with
its own markers, so the stage behind merges them by ROWTIME as for any repartition). A
stateless pump that reads it runs in each of those stages, on the rows written there, and
its target is written in all of them.

Stage 0 reads the input topics; stage ``k`` reads the repartition topic of the pump that
opened it. One worker runs every stage, one processor per partition of each topic it owns
(:mod:`pipelines.sql.application`), all in the same transactions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pipelines.sql.operators.base import Operator
from pipelines.sql.plan import ApplicationPlan, PlannedPump
from pipelines.sql.planning import Grouping

__all__ = [
    "Outbound",
    "Partitioning",
    "Repartition",
    "Stage",
    "Step",
    "Topology",
    "gated_stream",
    "partials_stream",
    "plan_stages",
    "repartition_topic",
]

_TOPIC_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def repartition_topic(application: str, pump: str) -> str:
    """``<application>-<pump>-repartition`` (characters Kafka refuses become ``_``)."""
    return f"{application}-{_TOPIC_CHARS.sub('_', pump)}-repartition"


def partials_stream(pump: str) -> str:
    """The pseudo-stream of a pump's partial aggregates (no SQL name can be this)."""
    return f"__partials:{pump}"


def gated_stream(pump: str) -> str:
    """The pseudo-stream of the rows of a pump's input that its late gate passed (no SQL
    name can be this)."""
    return f"__gated:{pump}"


def _self_join_stream(pump: str) -> str:
    """The pseudo-stream of the right side of a self-join behind a repartition (no SQL name
    can be this)."""
    return f"__right:{pump}"


@dataclass(frozen=True, slots=True)
class Partitioning:
    """How the rows of a stream are spread over partitions: rows with equal ``columns``
    (in the order of the key that spread them) are in one partition of ``origin``. No
    ``columns``: every row is in one partition of ``origin`` (:attr:`single`)."""

    origin: str
    columns: tuple[str, ...]

    @property
    def single(self) -> bool:
        return not self.columns


@dataclass(frozen=True, slots=True)
class Repartition:
    topic: str
    pump: str
    #: partial aggregates (True) or rows (False) cross it
    partials: bool
    #: the stage that reads it
    stage: int
    #: why it exists, and what its records are keyed by (for ``sql explain``)
    reason: str
    key: str
    #: rows that passed a late gate (with its frontier in the markers) cross it
    gated: bool = False
    #: the pump's input streams that pumps in several stages write: each of those stages
    #: writes to it (their partitions are its channels, numbered stage by stage)
    gathered: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One operator of a stage: a pump, or one phase of a two-phase pump."""

    pump: str
    source: str
    target: str
    build: Callable[[], Operator]
    right_source: str | None = None
    #: "" (the pump itself), "partial" or "final" (two phases), "gate" (its late gate)
    role: str = ""


@dataclass(frozen=True, slots=True)
class Outbound:
    """What a stage writes to a repartition topic: the rows of ``stream`` (side ``side`` of
    the pump, keyed by ``grouping`` without a tumbling window's time key; a
    :func:`gated_stream` for an event-time window), or the partial
    aggregates on ``stream`` (a :func:`partials_stream`, keyed by the non-window keys; with
    none, by the window start on event time and all in one partition on ROWTIME).

    Neither key holds a ROWTIME window's start: the stage behind gives a row (or partial)
    of an upstream partition that had been idle and came back behind the others the stage's
    ROWTIME (:mod:`pipelines.sql.shuffle`), which can move it to another window, and every
    window of a group must be in the partition its group is."""

    repartition: Repartition
    stream: str
    side: int
    grouping: Grouping
    #: partials: the window's size, and its time (event time or ROWTIME); gated rows:
    #: event time
    size_ms: int = 0
    event_time: bool = False


@dataclass(slots=True)
class Stage:
    index: int
    #: ``None``: stage 0, which reads the input topics
    reads: Repartition | None
    steps: list[Step] = field(default_factory=list)
    outbound: list[Outbound] = field(default_factory=list)
    #: what records of ``reads`` feed: rows of side ``i`` go to ``inbound[i]``; partials
    #: to ``inbound[0]`` (the final step's pseudo-stream)
    inbound: tuple[str, ...] = ()

    def reachable(self, start: str) -> set[str]:
        """The streams of this stage that rows pushed into ``start`` can reach."""
        seen = {start}
        for step in self.steps:
            if step.source in seen or step.right_source in seen:
                seen.add(step.target)
        return seen


@dataclass(slots=True)
class Topology:
    application: str
    stages: list[Stage]
    repartitions: list[Repartition]
    #: per stream (inputs included): how its rows are partitioned, when that is known
    partitioning: dict[str, Partitioning | None]
    #: per stateful pump: why it runs where it runs
    notes: dict[str, str]

    def stage_of(self, repartition_topic: str) -> Stage:
        for stage in self.stages:
            if stage.reads is not None and stage.reads.topic == repartition_topic:
                return stage
        raise KeyError(repartition_topic)

    def writers(self, repartition: Repartition) -> list[tuple[Stage, Outbound]]:
        return [
            (stage, out)
            for stage in self.stages
            for out in stage.outbound
            if out.repartition.topic == repartition.topic
        ]

    def explain(self) -> list[str]:
        """Lines for ``sql explain``: how streams are partitioned, each stage with its pumps,
        and each repartition topic with why it exists."""
        lines: list[str] = []
        for stream, part in self.partitioning.items():
            if part is not None and not stream.startswith("__"):
                how = "in one partition" if part.single else "partitioned by " + ", ".join(
                    part.columns
                )
                lines.append(f"  stream {stream} is {how} ({part.origin})")
        lines.append(
            f"  {len(self.stages)} stage{'s' if len(self.stages) > 1 else ''}, all run by every "
            "worker (one consumer group, one transaction per commit):"
        )
        for stage in self.stages:
            if stage.reads is None:
                lines.append(f"  stage {stage.index} reads the input topics")
            else:
                r = stage.reads
                kind = "partial aggregates" if r.partials else "rows"
                lines.append(f"  stage {stage.index} reads repartition topic {r.topic} "
                             f"({kind}, keyed by {r.key})")  # fmt: skip
                lines.append(f"    why: {r.reason}")
            for step in stage.steps:
                role = f" ({step.role})" if step.role else ""
                target = step.target
                if step.role == "partial":
                    target = f"partial aggregates → {self._topic_of(step.pump)}"
                if step.role == "gate":
                    target = f"rows that are not late → {self._topic_of(step.pump)}"
                sources = step.source + (f" ⋈ {step.right_source}" if step.right_source else "")
                if step.role == "final":
                    sources = "partial aggregates"
                note = self.notes.get(step.pump, "") if not step.role else ""
                tail = f" ({note})" if note.startswith(("no repartition", "runs in")) else ""
                lines.append(f"    pump {step.pump}{role}: {sources} → {target}{tail}")
            for out in stage.outbound:
                if not out.repartition.partials and not out.repartition.gated:
                    lines.append(f"    rows of {out.stream} → {out.repartition.topic}")
        return lines

    def _topic_of(self, pump: str) -> str:
        return next(r.topic for r in self.repartitions if r.pump == pump)


def plan_stages(plan: ApplicationPlan, partition_keys: Mapping[str, Sequence[str]]) -> Topology:
    """The stages of ``plan``; ``partition_keys`` are the columns each input stream's topic
    is keyed by (``Inputs[].PartitionKey``; empty when not declared)."""
    partitioning: dict[str, Partitioning | None] = {}
    stream_stages: dict[str, set[int]] = {}
    for name, info in plan.streams.items():
        if info.source:
            keys = tuple(partition_keys.get(name, ()))
            partitioning[name] = (
                Partitioning(f"the input topic's key: Inputs PartitionKey of {name}", keys)
                if keys
                else None
            )
            stream_stages[name] = {0}
    stages = [Stage(0, None)]
    repartitions: list[Repartition] = []
    notes: dict[str, str] = {}
    for pump in plan.pumps:
        in_stages: set[int] = set()
        for s in pump.sources:
            in_stages |= stream_stages.get(s, set())
        spread = [s for s in pump.sources if len(stream_stages.get(s, ())) > 1]
        reason = _misalignment(pump, partitioning, in_stages, spread, stream_stages)
        if reason is None and len(in_stages) > 1:
            # a stateless pump of a stream written in several stages runs in each of them:
            # it sees each row once, where it was written; no repartition
            for index in sorted(in_stages):
                stages[index].steps.append(
                    Step(pump.name, pump.source, pump.target, pump.build, pump.right_source)
                )
            notes[pump.name] = (
                f"runs in stages {_stage_list(in_stages)}, each of which writes "
                f"{pump.source}: it keeps no state, so it needs no repartition"
            )
            stream_stages.setdefault(pump.target, set()).update(in_stages)
            partitioning[pump.target] = None
            continue
        if reason is None:
            (index,) = in_stages or {0}
            stages[index].steps.append(
                Step(pump.name, pump.source, pump.target, pump.build, pump.right_source)
            )
            target_part = _carried(pump, partitioning)
            if pump.stateful:
                notes[pump.name] = _aligned_note(pump, partitioning)
        else:
            index, target_part = _repartition(
                plan, pump, reason, stages, repartitions, stream_stages, tuple(spread)
            )
            notes[pump.name] = f"repartitioned ({repartitions[-1].topic})"
        stream_stages.setdefault(pump.target, set()).add(index)
        if pump.target in partitioning and partitioning[pump.target] != target_part:
            target_part = None  # written by pumps that partition it differently
        partitioning[pump.target] = target_part
    return Topology(plan.application, stages, repartitions, partitioning, notes)


def _misalignment(
    pump: PlannedPump,
    partitioning: Mapping[str, Partitioning | None],
    in_stages: set[int],
    spread: Sequence[str] = (),
    stream_stages: Mapping[str, set[int]] | None = None,
) -> str | None:
    """Why ``pump`` cannot run where its input is, or None when it can. ``spread``: its
    input streams that pumps in several stages write (on both sides of a repartition)."""
    if not pump.stateful:
        return None
    if spread:
        where = stream_stages or {}
        shown = "; ".join(f"{s} in stages {_stage_list(where.get(s, set()))}" for s in spread)
        return (
            f"{pump.name} reads a stream that pumps on both sides of a repartition write "
            f"({shown}): the rows of every stage that writes it come together"
        )
    grouping = pump.grouping or ()
    if pump.right_source is None:
        part = partitioning.get(pump.source)
        keys = grouping[0].plain if grouping else ()
        if part is not None and set(part.columns) <= set(keys):
            return None  # one partition (no columns) holds every group
        shown = ", ".join(_key_text(grouping[0])) if grouping and grouping[0].columns else ""
        return (
            f"{pump.name} groups by {shown or 'nothing (one group per window)'}, but "
            f"{pump.source} is {_partitioned_text(part)}"
        )
    left, right = partitioning.get(pump.source), partitioning.get(pump.right_source)
    if len(in_stages) > 1:
        return f"{pump.source} and {pump.right_source} are in different stages"
    if (
        len(grouping) == 2
        and left is not None
        and right is not None
        and _co_partitioned(left, right, grouping[0], grouping[1])
    ):
        return None
    return (
        f"the join of {pump.source} ({_partitioned_text(left)}) and {pump.right_source} "
        f"({_partitioned_text(right)}) is not on the columns both are partitioned by"
    )


def _stage_list(indexes: set[int]) -> str:
    return ", ".join(str(i) for i in sorted(indexes))


def _co_partitioned(left: Partitioning, right: Partitioning, lg: Grouping, rg: Grouping) -> bool:
    if left.origin != right.origin or len(left.columns) != len(right.columns):
        return False
    if left.single:
        return True  # both sides in the one partition of the same topic
    pairs = set(zip(lg.columns, rg.columns, strict=True))
    return all((a, b) in pairs for a, b in zip(left.columns, right.columns, strict=True))


def _partitioned_text(part: Partitioning | None) -> str:
    if part is None:
        return "not partitioned by any of its columns"
    if part.single:
        return "in one partition"
    return f"partitioned by {', '.join(part.columns)}"


def _key_text(grouping: Grouping) -> list[str]:
    return [
        "window start" if i == grouping.window else (c or "an expression")
        for i, c in enumerate(grouping.columns)
    ]


def _aligned_note(pump: PlannedPump, partitioning: Mapping[str, Partitioning | None]) -> str:
    part = partitioning.get(pump.source)
    assert part is not None
    if part.single:
        return f"no repartition: {pump.source} is in one partition already, of {part.origin}"
    return f"no repartition: its keys include {', '.join(part.columns)}, {part.origin}"


def _carried(
    pump: PlannedPump, partitioning: Mapping[str, Partitioning | None]
) -> Partitioning | None:
    """The partitioning of ``pump``'s input that its target keeps (through renames; one
    partition whatever the pump computes: it runs where its input is)."""
    for source in pump.sources:
        part = partitioning.get(source)
        if part is not None and part.single:
            return part
        mapped = _mapped(pump, source, part.columns) if part is not None else None
        if part is not None and mapped is not None:
            return Partitioning(part.origin, mapped)
    return None


def _mapped(pump: PlannedPump, source: str, columns: Sequence[str]) -> tuple[str, ...] | None:
    lineage = pump.lineage.get(source, {})
    if not columns or any(c not in lineage for c in columns):
        return None
    return tuple(lineage[c] for c in columns)


def _repartition(
    plan: ApplicationPlan,
    pump: PlannedPump,
    reason: str,
    stages: list[Stage],
    repartitions: list[Repartition],
    stream_stages: Mapping[str, set[int]],
    gathered: tuple[str, ...] = (),
) -> tuple[int, Partitioning | None]:
    """Open a stage behind a repartition for ``pump``; returns its index and how the
    pump's target stream is partitioned. Every stage that writes one of its input streams
    writes to the repartition (``gathered``: the streams several stages write)."""
    index = len(stages)
    topic = repartition_topic(plan.application, pump.name)
    grouping = pump.grouping or tuple(Grouping((), ()) for _ in pump.sources)
    two_phase = pump.two_phase if pump.right_source is None else None
    if two_phase is not None:
        g = grouping[0]
        keys = _record_key_text(g)
        key = (
            ", ".join(keys)
            if keys
            else ("window start" if two_phase.event_time else "(one partition)")
        )
        repartition = Repartition(
            topic, pump.name, True, index,
            f"{reason}: each input partition aggregates its rows, stage {index} merges the "
            "partial aggregates of every partition", key, gathered=gathered,
        )  # fmt: skip
        pseudo = partials_stream(pump.name)
        # every stage that writes the input aggregates its rows (one channel per partition)
        for source_stage in sorted(stream_stages[pump.source]):
            stages[source_stage].steps.append(
                Step(pump.name, pump.source, pseudo, two_phase.partial, role="partial")
            )
            stages[source_stage].outbound.append(
                Outbound(repartition, pseudo, 0, g, two_phase.size_ms, two_phase.event_time)
            )
        stage = Stage(index, repartition, inbound=(pseudo,))
        stage.steps.append(Step(pump.name, pseudo, pump.target, two_phase.final, role="final"))
        # no group key: every partial in one partition on ROWTIME, by window start on
        # event time
        keyed_by = _record_key(g) if keys or not two_phase.event_time else None
    else:
        key = "; ".join(
            f"{s}: {', '.join(_record_key_text(g)) or '(one partition)'}"
            for s, g in zip(pump.sources, grouping, strict=True)
        )
        gate = pump.late_gate if pump.right_source is None else None
        late = (
            "; late rows are decided in front of it, per input partition"
            if gate is not None
            else ""
        )
        repartition = Repartition(
            topic, pump.name, False, index,
            f"{reason}: rows are repartitioned by its keys and taken in ROWTIME order by "
            f"stage {index}{late}", key, gated=gate is not None, gathered=gathered,
        )  # fmt: skip
        for side, (source, g) in enumerate(zip(pump.sources, grouping, strict=True)):
            # every stage that writes the input sends its rows (one channel per partition)
            for source_stage in sorted(stream_stages[source]):
                if gate is None:
                    stages[source_stage].outbound.append(Outbound(repartition, source, side, g))
                    continue
                gated = gated_stream(pump.name)
                stages[source_stage].steps.append(
                    Step(pump.name, source, gated, gate.gate, role="gate")
                )
                stages[source_stage].outbound.append(
                    Outbound(repartition, gated, side, g, event_time=True)
                )
        # a self-join's two sides arrive apart: the right one under a name of its own
        inbound = pump.sources
        if pump.right_source is not None and pump.right_source == pump.source:
            inbound = (pump.source, _self_join_stream(pump.name))
        stage = Stage(index, repartition, inbound=inbound)
        stage.steps.append(
            Step(
                pump.name,
                inbound[0],
                pump.target,
                pump.build if gate is None else gate.window,
                inbound[-1] if pump.right_source is not None else None,
            )
        )
        keyed_by = _record_key(grouping[0])
    stages.append(stage)
    repartitions.append(repartition)
    origin = f"repartition topic {topic}"
    if keyed_by == ():
        return index, Partitioning(origin, ())  # every record has one key: one partition
    mapped = _mapped(pump, pump.source, keyed_by) if keyed_by else None
    return index, (Partitioning(origin, mapped) if mapped else None)


def _record_key(grouping: Grouping) -> tuple[str, ...] | None:
    """The columns a repartition's records are keyed by (a tumbling window's time key is
    not one of them: :mod:`pipelines.sql.shuffle`); ``None`` when one is computed."""
    columns = [c for i, c in enumerate(grouping.columns) if i != grouping.window]
    return None if None in columns else tuple(c for c in columns if c is not None)


def _record_key_text(grouping: Grouping) -> list[str]:
    """:func:`_record_key` for ``sql explain``, computed keys named as such."""
    columns = grouping.columns
    return [c or "an expression" for i, c in enumerate(columns) if i != grouping.window]
