"""Every processor of a SQL application over in-memory topics, with the runtime's
exactly-once rules, for tests of repartitioned applications without Kafka.

What a processor returns becomes visible at the next commit, with every processor's state
changes and input positions (one transaction for all: one worker). A *crash* forgets what
happened since the last commit and rebuilds every processor from its changelog, then the
processors resume from the committed positions. Which partition is processed next, how many
records a batch holds, where commits and crashes fall: all random (seeded), so tests can ask
that results do not depend on them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.runtime import OutRecord, SourceRecord
from pipelines.runtime.changelog import latest_values
from pipelines.sql.application import SqlApplication

TP = tuple[str, int]

__all__ = ["LocalCluster"]


@dataclass
class LocalCluster:
    app: SqlApplication
    inputs: Mapping[str, int]
    seed: int = 0
    #: committed outputs per topic (output and error topics)
    outputs: dict[str, list[OutRecord]] = field(default_factory=dict)
    crashes: int = 0
    commits: int = 0

    def __post_init__(self) -> None:
        wiring = self.app.wire(self.inputs)
        self.rng = random.Random(self.seed)
        self.partitions: list[TP] = [
            (t, p) for t, n in wiring.partitions.items() for p in range(n)
        ]
        self.internal = set(self.app.repartition_topics)
        self.logs: dict[TP, list[SourceRecord]] = {tp: [] for tp in self.partitions}
        self.committed: dict[TP, int] = dict.fromkeys(self.partitions, 0)
        self.cursor: dict[TP, int] = dict.fromkeys(self.partitions, 0)
        self.changelog: dict[TP, dict[bytes, bytes]] = {tp: {} for tp in self.partitions}
        self._pending: list[OutRecord] = []
        self._changes: dict[TP, list[tuple[bytes, bytes | None]]] = {}
        self.procs: dict[TP, Any] = {}
        self._rebuild()

    # -- input ----------------------------------------------------------------------------
    def produce(self, topic: str, partition: int, records: Sequence[tuple[int, bytes]]) -> None:
        """``(timestamp_ms, value)`` records appended to an input partition."""
        log = self.logs[(topic, partition)]
        for ts, value in records:
            log.append(SourceRecord(topic, partition, len(log), ts, None, value))

    # -- the runtime ----------------------------------------------------------------------
    def _rebuild(self) -> None:
        for tp in self.partitions:
            proc = self.app.processor(*tp)
            proc.restore(list(self.changelog[tp].items()))
            self.procs[tp] = proc

    def _ready(self) -> list[TP]:
        return [tp for tp in self.partitions if self.cursor[tp] < len(self.logs[tp])]

    def step(self, max_batch: int = 200) -> bool:
        """One batch of one partition with records to read; False when none has."""
        ready = self._ready()
        if not ready:
            return False
        tp = self.rng.choice(ready)
        start = self.cursor[tp]
        n = self.rng.randrange(1, max_batch + 1)
        batch = self.logs[tp][start : start + n]
        self.cursor[tp] = start + len(batch)
        self._pending.extend(self.procs[tp].process(batch))
        if self.rng.random() < 0.2:  # changes are also taken between commits
            self._take(tp)
        return True

    def idle(self) -> None:
        """Every input partition is caught up and quiet."""
        for tp in self.partitions:
            if tp[0] not in self.internal:
                self._pending.extend(self.procs[tp].on_idle(0, 0))

    def _take(self, tp: TP) -> None:
        self._changes.setdefault(tp, []).extend(self.procs[tp].take_changes())

    def commit(self) -> None:
        for tp in self.partitions:
            self._take(tp)
        for tp, changes in self._changes.items():
            latest_values(changes, into=self.changelog[tp])
        self._changes = {}
        for out in self._pending:
            if out.topic in self.internal:
                assert out.partition is not None
                log = self.logs[(out.topic, out.partition)]
                log.append(SourceRecord(out.topic, out.partition, len(log), 0, out.key, out.value))
            else:
                self.outputs.setdefault(out.topic, []).append(out)
        self._pending = []
        self.committed = dict(self.cursor)
        self.commits += 1

    def crash(self) -> None:
        """A kill -9: nothing since the last commit happened; processors restart from the
        changelog and the committed positions."""
        self._pending = []
        self._changes = {}
        self.cursor = dict(self.committed)
        self._rebuild()
        self.crashes += 1

    def run(
        self,
        *,
        commit_every: int = 5,
        crash_chance: float = 0.0,
        max_batch: int = 200,
        idle_at_end: bool = True,
    ) -> None:
        """Process until every partition is read (committing every few batches, maybe
        crashing between them); then the inputs go idle and what that releases runs too."""
        for phase in range(2 if idle_at_end else 1):
            if phase == 1:
                self.idle()
                self.commit()
            steps = 0
            while True:
                progressed = self.step(max_batch)
                steps += 1
                if not progressed or steps % commit_every == 0:
                    if crash_chance and self.rng.random() < crash_chance:
                        self.crash()
                        continue
                    self.commit()
                if not progressed and not self._ready():
                    break

    def rows(self, topic: str) -> list[OutRecord]:
        return self.outputs.get(topic, [])
