"""The topics a worker writes: made so that retention never depends on the age of the input.

A result's time (a SQL application's ROWTIME) comes from its input's Kafka timestamps. Were it
the result's Kafka timestamp on a ``CreateTime`` topic, replaying data 30 days old would
write results the broker deletes at its next retention check (7 days by default), minutes
after they were written and before a delivery read them. So every topic the runtime
creates — outputs (results, error rows), changelogs, and any internal topic to come — is
``message.timestamp.type=LogAppendTime``: its records carry the time the broker appended
them, as a Kinesis record carries the time it arrived (``ApproximateArrivalTimestamp``), and
ROWTIME travels in the :data:`~pipelines.runtime.records.ROWTIME_HEADER` header.

Changelogs are ``cleanup.policy=compact`` only: compaction keeps every key's latest value
for ever, while ``compact,delete`` would also drop whole segments once their newest record
passed ``retention.ms`` — with them the latest value of every key not updated since.

Repartition topics (Kafka Streams' settings) keep their records for ever (``retention.ms``
-1) in segments of 50 MB or 10 minutes: the worker deletes what it has committed
(:mod:`pipelines.runtime.purge`), so a stage that is down for days loses nothing and a
running one keeps the topic small. Their partition count is the application's to choose; a
topic that exists with another count is refused (its records were spread by that count), and
so is one that compacts (the rows of a group share a key: compaction would drop all but the
last); one that deletes by age is warned about (what the stage behind has not read by then
is lost).

Topics made elsewhere are left as they are. :func:`prepare_topics` checks them and returns a
:class:`~ground.retention.RetentionWatch` over those that delete by record time, which
counts (and warns about) every record written with a timestamp already past retention.
"""

from __future__ import annotations

import logging

from ground.clock import Clock, wall_ms
from ground.errors import ConfigError, ShardlineError
from ground.kafka import ensure_topics, partition_count, topic_max_message_bytes
from ground.kafka_config import KafkaConfig
from ground.retention import (
    BACKFILL_DOC,
    LOG_APPEND_TIME,
    RetentionWatch,
    describe_retention,
    format_age,
)
from pipelines.runtime.config import DEFAULT_MAX_MESSAGE_BYTES, RuntimeConfig

__all__ = [
    "CHANGELOG_TOPIC_CONFIG",
    "TIMESTAMP_CONFIG",
    "output_topic_config",
    "prepare_topics",
    "repartition_topic_config",
]

log = logging.getLogger(__name__)

#: Every topic the runtime creates: the broker stamps the append time.
TIMESTAMP_CONFIG = {"message.timestamp.type": LOG_APPEND_TIME}
CHANGELOG_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": "0",
    **TIMESTAMP_CONFIG,
}


def repartition_topic_config(max_message_bytes: int) -> dict[str, str]:
    """A repartition topic's configuration (see the module)."""
    return {
        **output_topic_config(max_message_bytes),
        "cleanup.policy": "delete",
        "retention.ms": "-1",
        "segment.bytes": str(50 * 1024 * 1024),
        "segment.ms": str(10 * 60 * 1000),
    }


def output_topic_config(max_message_bytes: int) -> dict[str, str]:
    """An output topic's configuration; one that takes the worker's largest record (e.g. an
    error row holding a big input) when that is over Kafka's default."""
    config = dict(TIMESTAMP_CONFIG)
    if max_message_bytes > DEFAULT_MAX_MESSAGE_BYTES:
        config["max.message.bytes"] = str(max_message_bytes + 4096)
    return config


def prepare_topics(
    config: RuntimeConfig, kafka: KafkaConfig, *, clock: Clock = wall_ms
) -> RetentionWatch:
    """Create the changelog and output topics that do not exist, check those that do, and
    return the watch over the ones that delete records by their timestamps (ages taken on
    ``clock``)."""
    counts = {t: partition_count(kafka, t) for t in config.source_topics}
    if config.repartition_topics:
        wanted = dict(config.repartition_topics)
        ensure_topics_each(kafka, wanted, repartition_topic_config(config.max_message_bytes))
        for topic, n in wanted.items():
            counts[topic] = partition_count(kafka, topic)
            if counts[topic] != n:
                raise ConfigError(
                    "repartition_topics",
                    f"repartition topic {topic!r} has {counts[topic]} partitions, the "
                    f"application wants {n}; reset the application (shardline sql reset) or "
                    "keep its partition count",
                )
    changelogs = config.changelog_topics()
    for source, changelog in changelogs.items():
        ensure_topics(kafka, [changelog], counts[source], config=CHANGELOG_TOPIC_CONFIG)
        have = partition_count(kafka, changelog)
        if have != counts[source]:
            raise ConfigError(
                "source_topics",
                f"changelog {changelog!r} has {have} partitions, source {source!r} has "
                f"{counts[source]}; delete the changelog or use a new application_id",
            )
    if config.output_topics:
        n = config.output_partitions or max(counts.values())
        size = config.max_message_bytes
        ensure_topics(kafka, config.output_topics, n, config=output_topic_config(size))
        for topic in config.output_topics if size > DEFAULT_MAX_MESSAGE_BYTES else ():
            # a topic made elsewhere may refuse the largest records (error rows of big
            # inputs): say so at start-up rather than when it happens
            accepts = topic_max_message_bytes(kafka, topic)
            if accepts < size:
                log.warning(
                    "output topic %s accepts records up to %d bytes (max.message.bytes) but"
                    " this worker may write up to %d (an error row holds a rejected input"
                    " in hex; Runtime.MaxRecordBytes for a SQL application): raise the"
                    " topic's max.message.bytes", topic, accepts, size)  # fmt: skip
    return _check_retention(
        config, kafka, list(changelogs.values()), [t for t, _ in config.repartition_topics], clock
    )


def ensure_topics_each(
    kafka: KafkaConfig, topics: dict[str, int], config: dict[str, str]
) -> None:
    """Create each of ``topics`` (name → partition count) that does not exist."""
    for topic, partitions in topics.items():
        ensure_topics(kafka, [topic], partitions, config=config)


def _check_retention(
    config: RuntimeConfig,
    kafka: KafkaConfig,
    changelogs: list[str],
    repartitions: list[str],
    clock: Clock,
) -> RetentionWatch:
    writer = f"worker {config.application_id}"
    try:
        found = describe_retention(kafka, [*config.output_topics, *changelogs, *repartitions])
    except ShardlineError as exc:  # a check, not a reason to stop: say it was not made
        log.warning("%s: could not read the retention of its topics (%s); records older than"
                    " a topic's retention.ms will not be reported", writer, exc)
        return RetentionWatch((), writer=writer, clock=clock)
    for topic in changelogs:
        r = found[topic]
        if r.retention_ms is not None:
            policy, age = ",".join(sorted(r.cleanup_policy)), format_age(r.retention_ms)
            log.warning(
                "changelog %s has cleanup.policy=%s with retention.ms %d (%s): the broker"
                " deletes the latest state of every key not updated for that long; a"
                " changelog needs cleanup.policy=compact alone",
                topic, policy, r.retention_ms, age)  # fmt: skip
    for topic in repartitions:
        r = found[topic]
        if "compact" in r.cleanup_policy:
            raise ConfigError(
                "repartition_topics",
                f"repartition topic {topic!r} has cleanup.policy="
                f"{','.join(sorted(r.cleanup_policy))}: compaction would keep one row per group"
                " key; delete the topic (shardline sql reset) and let the worker make it",
            )
        if r.retention_ms is not None:
            log.warning(
                "repartition topic %s has retention.ms %d (%s): records the stage behind it has"
                " not read for that long are lost; a repartition topic needs retention.ms -1"
                " (the worker deletes what it has committed)",
                topic, r.retention_ms, format_age(r.retention_ms))  # fmt: skip
    outputs = [found[t] for t in config.output_topics]
    for r in outputs:
        if r.deletes_by_record_time and r.retention_ms is not None:
            log.info(
                "output topic %s is CreateTime with retention.ms %d (%s): results of input"
                " older than that are deleted minutes after they are written (counted and"
                " warned about; see %s)", r.topic, r.retention_ms, format_age(r.retention_ms),
                BACKFILL_DOC)  # fmt: skip
    # changelog entries carry the time they were written, never the input's: not watched
    return RetentionWatch(outputs, writer=writer, clock=clock)
