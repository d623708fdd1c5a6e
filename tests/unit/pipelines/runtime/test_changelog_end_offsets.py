"""The changelog's end-offset read waits out a leader that is away (a broker restart)."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ground.kafka_config import KafkaConfig
from pipelines.runtime.changelog import ChangelogReader


class Probe:
    """Answers ``errors`` first (one per call), then ``high`` = 100 + partition."""

    def __init__(self, errors: list[int]) -> None:
        self.errors, self.calls = errors, 0

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return 0, 100 + tp.partition


def reader(probe: Any, timeout_ms: int = 5_000) -> ChangelogReader:
    r = ChangelogReader(KafkaConfig("127.0.0.1:1"), "app", timeout_ms)
    r._probe = probe
    return r


def test_a_leader_away_is_asked_again() -> None:
    probe = Probe([KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE])
    assert reader(probe).end_offsets("t", [0, 1]) == {0: 100, 1: 101}
    assert probe.calls == 4


def test_a_partition_the_metadata_lost_in_a_broker_restart_is_asked_again() -> None:
    probe = Probe([KafkaError._UNKNOWN_PARTITION, KafkaError._TRANSPORT])
    assert reader(probe).end_offsets("t", [0]) == {0: 100}
    assert probe.calls == 3


def test_other_errors_and_the_timeout_still_raise() -> None:
    with pytest.raises(KafkaException):
        reader(Probe([KafkaError.TOPIC_AUTHORIZATION_FAILED])).end_offsets("t", [0])
    with pytest.raises(KafkaException):
        reader(Probe([KafkaError.NOT_LEADER_FOR_PARTITION] * 1000), 300).end_offsets("t", [0])
