"""The topics a worker writes: what it creates, and what it says about topics made elsewhere."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ground.errors import BrokerUnavailableError, ConfigError
from ground.kafka_config import KafkaConfig
from ground.retention import RetentionWatch, TopicRetention
from pipelines.runtime import ROWTIME_HEADER, RuntimeConfig, rowtime_from_headers
from pipelines.runtime import topics as runtime_topics
from pipelines.runtime.topics import prepare_topics
from tests.unit.pipelines.runtime.fakes import msg
from tests.unit.pipelines.runtime.harness import CHANGELOG, OUT, SRC, assign, make

DAY_MS = 86_400_000


class Broker:
    """The admin calls ``prepare_topics`` makes, against a dict of topic configs."""

    def __init__(self, existing: dict[str, dict[str, str]], partitions: int = 2) -> None:
        self.topics = {t: dict(c) for t, c in existing.items()}
        self.partitions = partitions
        self.created: dict[str, dict[str, str]] = {}
        self.describe_error: Exception | None = None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(runtime_topics, "ensure_topics", self.ensure_topics)
        monkeypatch.setattr(runtime_topics, "partition_count", lambda _b, _t: self.partitions)
        monkeypatch.setattr(runtime_topics, "topic_max_message_bytes", lambda _b, _t: 1_048_588)
        monkeypatch.setattr(runtime_topics, "describe_retention", self.describe)

    def ensure_topics(self, _kafka: KafkaConfig, names: Any, partitions: int, *,
                      config: dict[str, str] | None = None) -> None:  # fmt: skip
        for name in names:
            if name not in self.topics:
                self.topics[name] = self.created[name] = dict(config or {})

    def describe(self, _kafka: KafkaConfig, names: Any) -> dict[str, TopicRetention]:
        if self.describe_error is not None:
            raise self.describe_error
        return {n: TopicRetention.from_configs(n, self.topics[n]) for n in names}


CONFIG = RuntimeConfig("app", ("in",), output_topics=("out", "errors"))
KAFKA = KafkaConfig("b:1")


def test_every_topic_it_creates_is_log_append_time_and_the_changelog_compact_only(
    monkeypatch,
) -> None:
    broker = Broker({"in": {}})
    broker.install(monkeypatch)
    watch = prepare_topics(CONFIG, KAFKA)
    assert broker.created == {
        "app-in-changelog": {"cleanup.policy": "compact", "min.compaction.lag.ms": "0",
                             "message.timestamp.type": "LogAppendTime"},
        "out": {"message.timestamp.type": "LogAppendTime"},
        "errors": {"message.timestamp.type": "LogAppendTime"},
    }  # fmt: skip
    assert not watch.active  # nothing it writes can be deleted for its timestamp


def test_repartition_topics_keep_their_records_until_purged_and_have_a_changelog(
    monkeypatch,
) -> None:
    broker = Broker({"in": {}}, partitions=3)
    broker.install(monkeypatch)
    config = RuntimeConfig(
        "app", ("in",), output_topics=("out",), repartition_topics=(("app-P-repartition", 3),)
    )
    prepare_topics(config, KAFKA)
    assert broker.created["app-P-repartition"] == {
        "message.timestamp.type": "LogAppendTime", "cleanup.policy": "delete",
        "retention.ms": "-1", "segment.bytes": str(50 * 1024 * 1024),
        "segment.ms": str(10 * 60 * 1000),
    }  # fmt: skip
    assert broker.created["app-P-repartition-changelog"]["cleanup.policy"] == "compact"


def test_a_repartition_topic_with_another_partition_count_is_refused(monkeypatch) -> None:
    broker = Broker({"in": {}, "app-P-repartition": {}}, partitions=3)
    broker.install(monkeypatch)
    config = RuntimeConfig("app", ("in",), repartition_topics=(("app-P-repartition", 8),))
    with pytest.raises(ConfigError, match="has 3 partitions, the application wants 8"):
        prepare_topics(config, KAFKA)


def test_a_repartition_topic_made_elsewhere_must_not_compact_and_should_not_expire(
    monkeypatch, caplog
) -> None:
    config = RuntimeConfig("app", ("in",), repartition_topics=(("app-P-repartition", 3),))
    compacted = Broker({"in": {}, "app-P-repartition": {"cleanup.policy": "compact,delete"}},
                       partitions=3)  # fmt: skip
    compacted.install(monkeypatch)
    with pytest.raises(ConfigError, match="cleanup.policy=compact,delete: compaction would"):
        prepare_topics(config, KAFKA)
    expiring = Broker({"in": {}, "app-P-repartition": {"retention.ms": str(DAY_MS)}},
                      partitions=3)  # fmt: skip
    expiring.install(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="pipelines.runtime.topics"):
        prepare_topics(config, KAFKA)
    assert "repartition topic app-P-repartition has retention.ms 86400000 (1.0 days)" \
        in caplog.text  # fmt: skip
    caplog.clear()
    made = Broker({"in": {}}, partitions=3)  # the worker's own: nothing to say
    made.install(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="pipelines.runtime.topics"):
        prepare_topics(config, KAFKA)
    assert "repartition topic" not in caplog.text


def test_outputs_that_take_big_records_say_so_too(monkeypatch) -> None:
    broker = Broker({"in": {}})
    broker.install(monkeypatch)
    prepare_topics(RuntimeConfig("app", ("in",), output_topics=("out",),
                                 max_message_bytes=4_000_000), KAFKA)  # fmt: skip
    assert broker.created["out"] == {
        "message.timestamp.type": "LogAppendTime", "max.message.bytes": str(4_000_000 + 4096)
    }


def test_topics_made_elsewhere_are_left_alone_and_watched_if_they_delete_by_record_time(
    monkeypatch, caplog
) -> None:
    broker = Broker({
        "in": {},
        "out": {"retention.ms": str(7 * DAY_MS)},  # CreateTime, Kafka's default retention
        "errors": {"retention.ms": "-1"},
        "app-in-changelog": {"cleanup.policy": "compact"},
    })  # fmt: skip
    broker.install(monkeypatch)
    caplog.set_level(logging.INFO, "pipelines.runtime.topics")
    watch = prepare_topics(CONFIG, KAFKA)
    assert broker.created == {}
    assert watch.active
    now = 1_800_000_000_000
    assert watch.check("out", now - 30 * DAY_MS, now)
    assert not watch.check("errors", now - 30 * DAY_MS, now)
    assert not watch.check("app-in-changelog", now - 30 * DAY_MS, now)
    (note,) = [r for r in caplog.records if r.name == "pipelines.runtime.topics"]
    assert note.levelno == logging.INFO
    assert "output topic out is CreateTime with retention.ms 604800000" in note.getMessage()


def test_a_changelog_that_deletes_by_time_is_warned_about(monkeypatch, caplog) -> None:
    broker = Broker({
        "in": {},
        "app-in-changelog": {"cleanup.policy": "compact,delete", "retention.ms": str(DAY_MS)},
    })  # fmt: skip
    broker.install(monkeypatch)
    caplog.set_level(logging.WARNING, "pipelines.runtime.topics")
    prepare_topics(CONFIG, KAFKA)
    (warning,) = caplog.records
    text = warning.getMessage()
    assert "changelog app-in-changelog has cleanup.policy=compact,delete" in text
    assert "latest state of every key not updated" in text


def test_a_failed_check_does_not_stop_the_worker(monkeypatch, caplog) -> None:
    broker = Broker({"in": {}})
    broker.install(monkeypatch)
    broker.describe_error = BrokerUnavailableError("describing topic 'out': denied")
    caplog.set_level(logging.WARNING, "pipelines.runtime.topics")
    watch = prepare_topics(CONFIG, KAFKA)
    assert not watch.active
    assert "could not read the retention" in caplog.records[0].getMessage()


# -- what the worker writes ------------------------------------------------------------------
def test_outputs_carry_their_time_in_the_rowtime_header_and_changelog_entries_none() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0)
    rt._handle([msg(SRC, 0, i, b"k", b"%d" % i, ts=1_700_000_000_000 + i // 2)
                for i in range(4)], clock())  # fmt: skip
    assert rt.ownership.commit()
    outs = [h for t, h in producer.headers if t == OUT]
    assert outs == [[(ROWTIME_HEADER, b"%d" % (1_700_000_000_000 + i // 2))] for i in range(4)]
    assert [rowtime_from_headers(h) for h in outs] == [
        r[4] for r in producer.committed_records(OUT)
    ]
    assert {h is None for t, h in producer.headers if t == CHANGELOG} == {True}


def test_outputs_older_than_a_create_time_topics_retention_are_counted(caplog) -> None:
    rt, producer, consumer, clock, _ = make()
    now = 40 * DAY_MS
    rt.transactions.retention = RetentionWatch(
        [TopicRetention(OUT, "CreateTime", 7 * DAY_MS)], writer="worker app", clock=lambda: now
    )
    assign(rt, consumer, 0)
    caplog.set_level(logging.WARNING, "ground.retention")
    rt._handle([msg(SRC, 0, 0, b"k", b"1", ts=10 * DAY_MS),  # 30 days old: deleted at once
                msg(SRC, 0, 1, b"k", b"2", ts=39 * DAY_MS),
                msg(SRC, 0, 2, b"k", b"3", ts=11 * DAY_MS)], clock())  # fmt: skip
    assert rt.ownership.commit()
    assert rt.stats.past_retention == 2 and rt.stats.outputs == 3
    (warning,) = caplog.records
    assert "worker app wrote a record to topic out" in warning.getMessage()
