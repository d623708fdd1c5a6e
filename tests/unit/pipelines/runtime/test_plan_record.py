"""The record of the plan an application's internal topics were made by: written by the first
worker, compared by every later one, the first record deciding."""

from typing import Any

import pytest

from ground.errors import ConfigError
from ground.kafka_config import KafkaConfig
from pipelines.runtime import check_plan, plan_topic
from pipelines.runtime import plan_record as module

KAFKA = KafkaConfig("b:1")
RESET = "shardline sql reset apps/ticker"


class Topic:
    """The plan topic: its records, oldest first."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.records: list[tuple[str, list[str]]] = []
        self.created: list[tuple[str, int, dict[str, str]]] = []
        self.racer: tuple[str, list[str]] | None = None  # written by another worker first
        monkeypatch.setattr(module, "ensure_topics", self.ensure)
        monkeypatch.setattr(module, "read_plans", lambda _k, _t: list(self.records))
        monkeypatch.setattr(module, "_write", self.write)

    def ensure(self, _kafka: KafkaConfig, names: Any, partitions: int, *,
               config: dict[str, str]) -> None:  # fmt: skip
        self.created.extend((n, partitions, config) for n in names)

    def write(self, _kafka: KafkaConfig, _topic: str, fingerprint: str, lines: list[str]) -> None:
        if self.racer is not None:
            self.records.append(self.racer)
        self.records.append((fingerprint, lines))


def test_the_first_worker_records_its_plan_and_the_same_plan_starts_again(monkeypatch) -> None:
    topic = Topic(monkeypatch)
    check_plan(KAFKA, "app", "aaaa", ["app-P-repartition (rows, keyed by X)"], reset_command=RESET)
    assert topic.records == [("aaaa", ["app-P-repartition (rows, keyed by X)"])]
    assert topic.created == [
        ("app-plan", 1, {"cleanup.policy": "compact", "message.timestamp.type": "LogAppendTime"})
    ]
    for _ in range(2):  # restarts: nothing written, nothing refused
        check_plan(KAFKA, "app", "aaaa", ["app-P-repartition (rows, keyed by X)"],
                   reset_command=RESET)  # fmt: skip
    assert len(topic.records) == 1
    assert plan_topic("app") == "app-plan"


def test_another_plan_is_refused_naming_the_reset_and_both_plans(monkeypatch) -> None:
    topic = Topic(monkeypatch)
    topic.records = [("aaaa", ["app-P-repartition (partial aggregates, keyed by SECTOR)"])]
    with pytest.raises(ConfigError) as info:
        check_plan(KAFKA, "app", "bbbb", [], reset_command=RESET)
    message = str(info.value)
    assert info.value.field == "plan"
    assert f"run `{RESET}`" in message
    assert "plan aaaa: app-P-repartition (partial aggregates, keyed by SECTOR)" in message
    assert "plan bbbb: no repartition" in message
    assert len(topic.records) == 1  # the refused plan is not recorded


def test_of_two_workers_starting_at_once_the_second_record_loses(monkeypatch) -> None:
    topic = Topic(monkeypatch)
    topic.racer = ("aaaa", [])
    with pytest.raises(ConfigError, match="another plan"):
        check_plan(KAFKA, "app", "bbbb", [], reset_command=RESET)
    topic.racer = None
    check_plan(KAFKA, "app", "aaaa", [], reset_command=RESET)  # the winner's plan goes on


def test_a_record_is_read_back_whatever_its_value() -> None:
    assert module._decode(b"aaaa", b'{"plan": ["x"]}') == ("aaaa", ["x"])
    assert module._decode(b"aaaa", b"garbage") == ("aaaa", ["(unreadable)"])
    assert module._decode(None, None) == ("", [])


class _LeaderAwayConsumer:
    """A consumer of a cluster electing leaders: every watermark query fails with ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code

    def get_watermark_offsets(self, _tp: Any, timeout: float = 0) -> tuple[int, int]:
        from confluent_kafka import KafkaError, KafkaException

        raise KafkaException(KafkaError(self.code, "Broker: Not leader for partition"))

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("code", "transient"),
    [("NOT_LEADER_FOR_PARTITION", True), ("LEADER_NOT_AVAILABLE", True),
     ("TOPIC_AUTHORIZATION_FAILED", False)],
)  # fmt: skip
def test_a_cluster_electing_leaders_is_waited_out_at_start_up(
    monkeypatch: pytest.MonkeyPatch, code: str, transient: bool
) -> None:
    """A worker started again while its broker restarts read the plan topic before the
    partition had a leader, and stopped; the start-up wait waits out such errors."""
    from confluent_kafka import KafkaError

    from ground.errors import BrokerUnavailableError, ServiceUnavailableError
    from ground.startup import StartupWait, wait_until_up

    monkeypatch.setattr(
        module, "Consumer", lambda _c: _LeaderAwayConsumer(getattr(KafkaError, code))
    )
    with pytest.raises(BrokerUnavailableError) as info:
        module.read_plans(KAFKA, "app-plan")
    assert isinstance(info.value, ServiceUnavailableError) is transient
    assert "app-plan" in str(info.value)
    calls: list[int] = []

    def read() -> list:
        calls.append(1)
        if len(calls) < 3:
            return module.read_plans(KAFKA, "app-plan")
        return []

    if transient:
        assert wait_until_up(read, StartupWait(wait_ms=60_000), sleep=lambda _s: None) == []
        assert len(calls) == 3
