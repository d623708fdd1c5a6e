"""Which records a topic deletes for their timestamp, and the watch that reports them."""

from __future__ import annotations

import logging

import pytest

from ground.retention import (
    CREATE_TIME,
    LOG_APPEND_TIME,
    RetentionWatch,
    TopicRetention,
    format_age,
)

DAY_MS = 86_400_000
NOW_MS = 1_800_000_000_000


def topic(name: str = "t", **configs: str) -> TopicRetention:
    return TopicRetention.from_configs(name, {k.replace("_", "."): v for k, v in configs.items()})


@pytest.mark.parametrize(
    ("configs", "retention_ms", "by_record_time"),
    [
        ({}, 7 * DAY_MS, True),  # Kafka's defaults: delete, 7 days, CreateTime
        ({"retention_ms": "3600000"}, 3_600_000, True),
        ({"retention_ms": "-1"}, None, False),
        ({"cleanup_policy": "compact"}, None, False),  # compaction alone deletes by key only
        ({"cleanup_policy": "compact,delete", "retention_ms": "1000"}, 1000, True),
        ({"cleanup_policy": "delete, compact"}, 7 * DAY_MS, True),
        ({"message_timestamp_type": LOG_APPEND_TIME}, 7 * DAY_MS, False),
    ],
)
def test_what_deletes_by_record_time(configs, retention_ms, by_record_time) -> None:
    r = topic(**configs)
    assert r.retention_ms == retention_ms
    assert r.deletes_by_record_time is by_record_time


def test_expired_is_older_than_retention_at_write_time() -> None:
    r = topic(retention_ms=str(7 * DAY_MS))
    assert r.timestamp_type == CREATE_TIME
    assert r.expired(NOW_MS - 30 * DAY_MS, NOW_MS)
    assert not r.expired(NOW_MS - 7 * DAY_MS, NOW_MS)  # not older than: kept until later
    assert r.expired(NOW_MS - 7 * DAY_MS - 1, NOW_MS)
    assert not r.expired(0, NOW_MS)  # 0: the producer stamps the produce time
    assert not topic(message_timestamp_type=LOG_APPEND_TIME).expired(1, NOW_MS)


def test_the_watch_counts_every_expired_record_and_warns_once_per_topic(caplog) -> None:
    watch = RetentionWatch(
        [topic("old", retention_ms=str(DAY_MS)), topic("kept", retention_ms="-1"),
         topic("appended", message_timestamp_type=LOG_APPEND_TIME)],
        writer="worker w",
    )  # fmt: skip
    assert watch.active
    caplog.set_level(logging.WARNING, "ground.retention")
    month_ago = NOW_MS - 30 * DAY_MS
    assert [watch.check("old", month_ago + i, NOW_MS) for i in range(3)] == [True] * 3
    assert not watch.check("old", NOW_MS - DAY_MS + 1, NOW_MS)
    assert not watch.check("old", None, NOW_MS)
    assert not watch.check("kept", month_ago, NOW_MS)
    assert not watch.check("appended", month_ago, NOW_MS)
    assert not watch.check("unknown", month_ago, NOW_MS)
    assert watch.counts == {"old": 3} and watch.total == 3
    (warning,) = caplog.records
    text = warning.getMessage()
    assert "worker w" in text and "topic old" in text and "30.0 days old" in text
    assert "retention.ms (86400000, 1.0 days" in text and "LogAppendTime" in text


def test_a_watch_over_safe_topics_is_inactive() -> None:
    assert not RetentionWatch([topic(retention_ms="-1")], writer="w").active
    assert not RetentionWatch((), writer="w").active


def test_ages_read_as_people_say_them() -> None:
    assert format_age(30 * DAY_MS) == "30.0 days"
    assert format_age(5 * 3_600_000 + 720_000) == "5.2 hours"
    assert format_age(40_500) == "40 s"
