"""The soak's view of progress: how far each consumer group got, sampled every few seconds.

:class:`Progress` samples, every ``interval_s``, the end offsets of the input and the
results topic and what the SQL application and the two deliveries committed (summed over
partitions). From that timeline, :func:`recovery_s` is how long after a fault was healed
everything that was there at that moment was processed and delivered, and
:func:`longest_stall_s` the longest time the SQL application committed nothing while input
was waiting (a broker kill on a cluster must not stop it beyond a leader election).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from tests.soak.supervisor import Supervisor

__all__ = ["Progress", "Sample", "longest_stall_s", "recovery_s"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    t_s: float
    input_end: int
    sql_done: int
    output_end: int
    s3_done: int
    es_done: int


class Progress(threading.Thread):
    def __init__(self, bootstrap: str, supervisor: Supervisor, *, input_topic: str,
                 output_topic: str, partitions: int, groups: dict[str, str],
                 interval_s: float = 2.0) -> None:
        super().__init__(name="soak-progress", daemon=True)
        self.bootstrap, self.sup = bootstrap, supervisor
        self.input_topic, self.output_topic = input_topic, output_topic
        self.partitions, self.groups, self.interval_s = partitions, groups, interval_s
        self.samples: list[Sample] = []
        self.stop_event = threading.Event()

    def _consumer(self, group: str) -> Consumer:
        return Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                         "enable.auto.commit": False, "socket.timeout.ms": 5_000,
                         "log_level": 2})

    def run(self) -> None:
        probe = self._consumer(f"soak-probe-{uuid.uuid4().hex[:6]}")
        readers = {role: self._consumer(group) for role, group in self.groups.items()}
        try:
            while not self.stop_event.wait(self.interval_s):
                try:
                    self.samples.append(self._sample(probe, readers))
                except Exception as exc:  # a broker down: no sample this time
                    log.debug("soak: no progress sample: %s", exc)
        finally:
            for c in (probe, *readers.values()):
                c.close()

    def _sample(self, probe: Consumer, readers: dict[str, Consumer]) -> Sample:
        t = self.sup.now()

        def end(topic: str) -> int:
            return sum(probe.get_watermark_offsets(TopicPartition(topic, p), 5)[1]
                       for p in range(self.partitions))

        def done(role: str, topic: str) -> int:
            tps = [TopicPartition(topic, p) for p in range(self.partitions)]
            return sum(max(0, tp.offset) for tp in readers[role].committed(tps, timeout=5))

        return Sample(round(t, 1), end(self.input_topic), done("sql", self.input_topic),
                      end(self.output_topic), done("s3", self.output_topic),
                      done("es", self.output_topic))


def recovery_s(samples: list[Sample], healed_s: float) -> float | None:
    """Seconds from ``healed_s`` until every group had processed all that was there at
    ``healed_s``; None if that never happened in the samples."""
    before = [s for s in samples if s.t_s <= healed_s]
    if not before:
        return None
    at = before[-1]
    for s in samples:
        if s.t_s >= healed_s and s.sql_done >= at.input_end and s.s3_done >= at.output_end \
                and s.es_done >= at.output_end:
            return round(s.t_s - healed_s, 1)
    return None


def longest_stall_s(samples: list[Sample], start_s: float, end_s: float,
                    stage: str = "sql") -> float:
    """The longest time within [start_s, end_s] ``stage`` (``sql``, ``s3``, ``es``)
    committed nothing new while records were waiting for it (its last commit behind the end
    of its topic; for a delivery, transaction markers keep it behind, so results arriving
    every few seconds set its floor)."""
    before = [s for s in samples if s.t_s < start_s][-1:]  # the last one before: a single
    window = before + [s for s in samples if start_s <= s.t_s <= end_s]  # broker's outage
    # leaves no sample while it lasts, and the stall spans it
    longest, since = 0.0, None
    last_done = None
    for s in window:
        done = getattr(s, f"{stage}_done")
        moved = last_done is None or done > last_done
        waiting = done < (s.input_end if stage == "sql" else s.output_end)
        if moved or not waiting:
            since = s.t_s
        elif since is not None:
            longest = max(longest, s.t_s - since)
        last_done = done
    return round(longest, 1)
