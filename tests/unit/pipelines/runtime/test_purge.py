"""Purging repartition topics: what was committed is deleted, in rounds, in the background."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from pipelines.runtime.purge import RepartitionPurge
from tests.unit.fakes import ManualClock

REP = "app-P-repartition"


class Admin:
    def __init__(self) -> None:
        self.asked: list[list[tuple[str, int, int]]] = []
        self.futures: list[Future[Any]] = []

    def delete_records(self, offsets: list[Any], **_kwargs: Any) -> dict[Any, Future[Any]]:
        self.asked.append([(o.topic, o.partition, o.offset) for o in offsets])
        out = {}
        for o in offsets:
            future: Future[Any] = Future()
            self.futures.append(future)
            out[o] = future
        return out


def test_committed_records_of_repartition_topics_are_deleted_once_per_round() -> None:
    admin, clock = Admin(), ManualClock()
    purge = RepartitionPurge(admin, [REP], interval_ms=1_000, clock=clock)
    owned = [(REP, 0, 10), (REP, 1, 0), ("input", 0, 99)]
    purge.maybe(owned)
    assert admin.asked == []  # not due yet
    clock.now = 1_000
    purge.maybe(owned)
    assert admin.asked == [[(REP, 0, 10)]]  # nothing below offset 0; inputs are never purged
    purge.maybe([(REP, 0, 20)])
    assert len(admin.asked) == 1  # the next round is a full interval later
    clock.now = 2_000
    purge.maybe([(REP, 0, 20)])
    assert len(admin.asked) == 1  # still in flight: not asked twice
    admin.futures[0].set_result(None)
    clock.now = 3_000
    purge.maybe([(REP, 0, 20)])
    assert admin.asked[-1] == [(REP, 0, 20)] and purge.purged == {(REP, 0): 10}
    admin.futures[1].set_exception(KafkaException(KafkaError(KafkaError._TIMED_OUT)))
    clock.now = 4_000
    purge.maybe([(REP, 0, 20)])  # a failed round is asked again
    assert admin.asked[-1] == [(REP, 0, 20)] and purge.purged == {(REP, 0): 10}


def test_without_repartition_topics_nothing_is_asked() -> None:
    admin, clock = Admin(), ManualClock()
    purge = RepartitionPurge(admin, [], interval_ms=1, clock=clock)
    clock.now = 10
    purge.maybe([("input", 0, 5)])
    assert admin.asked == []
