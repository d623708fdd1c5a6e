"""The last stable offsets probe: one request to the broker serves the calls of one poll."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from ground.kafka_config import KafkaConfig
from pipelines.runtime import StableOffsets


class FakeAdmin:
    """``list_offsets``: the offsets in ``ends`` (a partition missing from it fails for
    good), each request recorded."""

    def __init__(self, ends: dict[tuple[str, int], int]) -> None:
        self.ends = ends
        self.requests: list[set[tuple[str, int]]] = []

    def list_offsets(self, wanted: dict[Any, Any], **_: Any) -> dict[Any, Future[Any]]:
        self.requests.append({(tp.topic, tp.partition) for tp in wanted})
        out: dict[Any, Future[Any]] = {}
        for tp in wanted:
            future: Future[Any] = Future()
            end = self.ends.get((tp.topic, tp.partition))
            if end is None:
                future.set_exception(KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)))
            else:
                future.set_result(type("Info", (), {"offset": end})())
            out[tp] = future
        return out


def probe_with(ends: dict[tuple[str, int], int]) -> tuple[StableOffsets, FakeAdmin]:
    admin = FakeAdmin(ends)
    return StableOffsets(KafkaConfig("127.0.0.1:1"), admin=admin), admin


def test_without_polls_every_call_asks_the_broker() -> None:
    probe, admin = probe_with({("in", 0): 5, ("in", 1): 7})
    assert probe({("in", 0)}) == {("in", 0): 5}
    assert probe({("in", 0)}) == {("in", 0): 5}
    assert admin.requests == [{("in", 0)}, {("in", 0)}]
    assert (probe.calls, probe.requests) == (2, 2)


def test_the_calls_of_one_poll_share_one_request() -> None:
    probe, admin = probe_with({("in", 0): 5, ("in", 1): 7, ("in", 2): 9})
    probe.new_poll()
    assert probe({("in", 0)}) == {("in", 0): 5}
    assert probe({("in", 0)}) == {("in", 0): 5}  # another stage partition, same poll
    assert probe({("in", 0), ("in", 1)}) == {("in", 0): 5, ("in", 1): 7}  # one it had not
    assert admin.requests == [{("in", 0)}, {("in", 1)}]
    admin.ends[("in", 0)] = 6  # committed meanwhile: the next poll asks again
    probe.new_poll()
    # the first call of a poll asks for every partition wanted in the poll before too
    assert probe({("in", 2)}) == {("in", 2): 9}
    assert admin.requests[-1] == {("in", 0), ("in", 1), ("in", 2)}
    assert probe({("in", 0), ("in", 1)}) == {("in", 0): 6, ("in", 1): 7}
    assert (probe.calls, probe.requests) == (5, 3)
    probe.new_poll()
    probe.new_poll()  # a poll nobody asked in: what it wanted is forgotten a poll later
    assert probe({("in", 1)}) == {("in", 1): 7}
    assert admin.requests[-1] == {("in", 1)}


def test_a_partition_the_broker_does_not_answer_for_is_not_asked_again_in_the_poll() -> None:
    probe, admin = probe_with({("in", 0): 5})
    probe.new_poll()
    assert probe({("in", 0), ("gone", 3)}) == {("in", 0): 5}
    assert probe({("gone", 3)}) == {}
    assert len(admin.requests) == 1
