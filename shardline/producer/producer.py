"""The KPL-like producer: generated records → a Kafka topic, partitioned like Kinesis.

Each record's partition is chosen by :func:`~shardline.producer.partitioner.partition_for`
(MD5 of the partition key, equal hash-key ranges per partition) and set explicitly; the
Kafka key is the partition key in UTF-8. The confluent-kafka producer is idempotent
(``enable.idempotence``, ``acks=all``) and batches like the KPL (``linger.ms`` plays
``RecordMaxBufferedTime``, 100 ms by default). Delivery results are counted by the
delivery callback: failures end up in :class:`ProduceReport`, never silently dropped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ground.clock import Clock, wall_ms
from ground.errors import ConfigError, ProduceError, ShardlineError
from ground.kafka import ensure_topics, partition_count, wait_for_broker
from ground.kafka_config import KafkaConfig
from ground.retention import LOG_APPEND_TIME, RetentionWatch, describe_retention
from ground.settings import Settings
from schemas import Codec, catalog_for, codec_for
from shardline.producer.generators import MALFORMED_HORIZON, DataSpec, Record
from shardline.producer.partitioner import partition_for
from shardline.producer.ratelimit import TokenBucket

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LINGER_MS",
    "PartitionStats",
    "ProduceConfig",
    "ProduceReport",
    "produce",
    "record_codec",
]

log = logging.getLogger(__name__)

DEFAULT_LINGER_MS = 100  # the KPL's RecordMaxBufferedTime
DEFAULT_BATCH_SIZE = 1_000_000  # bytes per partition batch (librdkafka's default)

DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_DELIVERY_TIMEOUT_MS = 30_000
COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")
TIMESTAMPS = ("produce", "event")
_PROGRESS_EVERY = 1000
_FLUSH_GRACE_S = 5.0
_MAX_ERRORS_KEPT = 20


class _TransientRetries(logging.Filter):
    """librdkafka warns while a fresh broker's coordinator loads ("…: retrying") and then
    recovers by itself: those lines are INFO, not WARNING. Real failures still warn."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.getMessage().rstrip().endswith("retrying"):
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


_LIBRDKAFKA_LOG = logging.getLogger("shardline.producer.librdkafka")
_LIBRDKAFKA_LOG.addFilter(_TransientRetries())


@dataclass(frozen=True, slots=True)
class ProduceConfig:
    """One producer run. Give ``count`` (records) or ``duration_ms``, or both (first wins).

    ``partitions``: create the topic with this many partitions if it does not exist
    (an existing topic keeps its count, and the MD5 ranges follow the real count).
    ``timestamp``: the Kafka record timestamp, "produce" (now, like Kinesis'
    ApproximateArrivalTimestamp) or "event" (the record's ``event_time_ms``).
    ``subject``: with a schema registry, the subject Avro records' schema is registered
    under (default ``<topic>-value``, Confluent's TopicNameStrategy).
    """

    topic: str
    data: DataSpec
    count: int | None = 1000
    duration_ms: int | None = None
    partitions: int | None = None
    linger_ms: int = DEFAULT_LINGER_MS
    batch_size: int = DEFAULT_BATCH_SIZE
    compression: str = "none"
    rate_per_s: float | None = None
    timestamp: str = "produce"
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    delivery_timeout_ms: int = DEFAULT_DELIVERY_TIMEOUT_MS
    subject: str | None = None

    def __post_init__(self) -> None:
        if not self.topic:
            raise ConfigError("topic", "must not be empty")
        if self.subject is not None and not self.subject.strip():
            raise ConfigError("subject", "must not be empty")
        if self.count is None and self.duration_ms is None:
            raise ConfigError("count", "give a record count or a duration")
        if self.count is not None and self.count < 0:
            raise ConfigError("count", f"must be >= 0, got {self.count}")
        horizon = self.count if self.count is not None else MALFORMED_HORIZON
        if self.data.malformed > horizon:
            raise ConfigError(
                "malformed",
                f"{self.data.malformed} malformed records do not fit "
                f"in the first {horizon} records",
            )
        if self.duration_ms is not None and self.duration_ms <= 0:
            raise ConfigError("duration", f"must be positive, got {self.duration_ms} ms")
        if self.partitions is not None and self.partitions < 1:
            raise ConfigError("partitions", f"must be >= 1, got {self.partitions}")
        if self.linger_ms < 0:
            raise ConfigError("linger_ms", f"must be >= 0, got {self.linger_ms}")
        if self.batch_size < 1:
            raise ConfigError("batch_size", f"must be >= 1, got {self.batch_size}")
        if self.compression not in COMPRESSIONS:
            raise ConfigError("compression", f"one of {COMPRESSIONS}, got {self.compression!r}")
        if self.rate_per_s is not None and self.rate_per_s <= 0:
            raise ConfigError("rate", f"must be positive, got {self.rate_per_s}")
        if self.timestamp not in TIMESTAMPS:
            raise ConfigError("timestamp", f"one of {TIMESTAMPS}, got {self.timestamp!r}")
        if self.delivery_timeout_ms <= self.linger_ms:
            raise ConfigError(
                "delivery_timeout_ms",
                f"must be more than linger_ms ({self.linger_ms}), got {self.delivery_timeout_ms}",
            )


@dataclass(slots=True)
class PartitionStats:
    produced: int = 0
    delivered: int = 0
    failed: int = 0


@dataclass(slots=True)
class ProduceReport:
    """What a run did. :meth:`records` regenerates exactly the messages it produced."""

    topic: str
    partitions: int
    data: DataSpec
    codec: Codec | None = None
    produced: int = 0
    delivered: int = 0
    failed: int = 0
    by_partition: dict[int, PartitionStats] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    malformed: list[Record] = field(default_factory=list)
    elapsed_s: float = 0.0
    #: records given an event timestamp the topic's retention.ms has already passed: the
    #: broker deletes them at its next retention check (``ground.retention``)
    past_retention: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.delivered == self.produced

    @property
    def records_per_s(self) -> float:
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def records(self) -> Iterator[Record]:
        """The ``produced`` messages of this run, regenerated from the seed."""
        return self.data.records(self.produced, codec=self.codec)

    def partition_of(self, record: Record) -> int:
        return partition_for(record.key, self.partitions)

    def summary(self) -> str:
        lines = [
            f"topic {self.topic}: produced {self.produced}, delivered {self.delivered}, "
            f"failed {self.failed} in {self.elapsed_s:.2f}s ({self.records_per_s:,.0f} records/s)"
        ]
        for p in sorted(self.by_partition):
            s = self.by_partition[p]
            lines.append(
                f"  partition {p}: produced {s.produced}, "
                f"delivered {s.delivered}, failed {s.failed}"
            )
        if self.malformed:
            lines.append(
                f"  malformed records injected: {len(self.malformed)} at "
                f"{[r.index for r in self.malformed][:20]}"
            )
        if self.past_retention:
            lines.append(
                f"  {self.past_retention} records have timestamps older than the topic's"
                " retention.ms: the broker deletes them within minutes (docs/backfill.md)"
            )
        for reason, n in self.errors.most_common(_MAX_ERRORS_KEPT):
            lines.append(f"  error x{n}: {reason}")
        return "\n".join(lines)


def _producer_config(settings: Settings, config: ProduceConfig) -> dict[str, object]:
    return settings.kafka.client_config({
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": config.linger_ms,
        "batch.size": config.batch_size,
        "compression.type": config.compression,
        "message.timeout.ms": config.delivery_timeout_ms,
        "client.id": "shardline-producer",
        "logger": _LIBRDKAFKA_LOG,
    })


def record_codec(settings: Settings, config: ProduceConfig) -> Codec:
    """The codec of the run's records, from the schemas of ``settings``. With a schema
    registry, an Avro schema is registered here, before anything is sent: a registry that
    refuses it (incompatible with the subject's versions) stops the run at the start."""
    subject = config.subject or f"{config.topic}-value"
    data = config.data
    codec = codec_for(data.format, data.kind, catalog=catalog_for(settings), subject=subject)
    if data.format == "avro":
        sid = codec.schema_id
        if codec.catalog.registry is not None:
            log.info("schema %s is id %d under subject %s", data.kind, sid, subject)
    return codec


def produce(
    settings: Settings,
    config: ProduceConfig,
    *,
    on_progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall: Clock = wall_ms,
) -> ProduceReport:
    """Produce ``config``'s records; return the report (check ``report.ok``).

    Raises BrokerUnavailableError if no broker answers within ``connect_timeout_s``,
    ConfigError if the topic is missing and ``partitions`` is not given, ProduceError on a
    fatal producer error. Per-record delivery failures are counted in the report.

    With event timestamps, records older than the topic's ``retention.ms`` (on a CreateTime
    topic) are counted in ``past_retention`` and the first one is warned about: the broker
    would delete them within minutes. ``wall`` is the clock their age is taken on.
    """
    kafka = settings.kafka
    codec = record_codec(settings, config)
    wait_for_broker(kafka, config.connect_timeout_s)
    if config.partitions is not None:
        ensure_topics(
            kafka, [config.topic], config.partitions, timeout_s=config.connect_timeout_s
        )
    n = partition_count(kafka, config.topic, config.connect_timeout_s)
    if config.partitions is not None and n != config.partitions:
        log.warning(
            "topic %s exists with %d partitions (asked for %d); keys map to %d ranges",
            config.topic,
            n,
            config.partitions,
            n,
        )
    report = ProduceReport(
        topic=config.topic,
        partitions=n,
        data=config.data,
        codec=codec,
        by_partition={p: PartitionStats() for p in range(n)},
    )
    use_event_time = config.timestamp == "event"
    watch = _retention_watch(kafka, config) if use_event_time else None
    fatal: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        stats = report.by_partition.setdefault(msg.partition() or 0, PartitionStats())
        if err is None:
            report.delivered += 1
            stats.delivered += 1
        else:
            report.failed += 1
            stats.failed += 1
            report.errors[err.str()] += 1

    def on_error(err: KafkaError) -> None:
        if err.fatal():
            fatal.append(err)
        else:
            log.warning("kafka: %s", err.str())

    try:
        producer = Producer({**_producer_config(settings, config), "error_cb": on_error})
    except KafkaException as exc:
        raise ConfigError("producer", kafka.redact(str(exc))) from None
    bucket = TokenBucket(config.rate_per_s, clock=clock) if config.rate_per_s else None
    started = clock()
    deadline = started + config.duration_ms / 1000 if config.duration_ms is not None else None
    try:
        for record in config.data.records(config.count, codec=codec):
            if deadline is not None and clock() >= deadline:
                break
            if fatal:
                raise ProduceError(f"fatal producer error: {fatal[0].str()}")
            if bucket is not None:
                bucket.acquire()
            p = partition_for(record.key, n)
            ts = 0  # 0: librdkafka stamps the produce time
            if use_event_time and record.data is not None:
                ts = record.data["event_time_ms"]
                if watch is not None and watch.check(config.topic, ts, wall()):
                    report.past_retention += 1
            while True:
                try:
                    producer.produce(
                        config.topic,
                        value=record.value,
                        key=record.key.encode("utf-8"),
                        partition=p,
                        on_delivery=on_delivery,
                        timestamp=ts,
                    )
                    break
                except BufferError:  # local queue full: serve callbacks, then retry
                    producer.poll(0.05)
            report.produced += 1
            report.by_partition[p].produced += 1
            if record.malformed is not None:
                report.malformed.append(record)
            producer.poll(0)
            if on_progress is not None and report.produced % _PROGRESS_EVERY == 0:
                on_progress(report.produced)
    finally:
        remaining = producer.flush(config.delivery_timeout_ms / 1000 + _FLUSH_GRACE_S)
        if remaining:
            report.failed += remaining
            report.errors["not delivered before the flush timeout"] += remaining
        report.elapsed_s = clock() - started
    if on_progress is not None:
        on_progress(report.produced)
    if fatal:
        raise ProduceError(f"fatal producer error: {fatal[0].str()}")
    return report


def _retention_watch(kafka: KafkaConfig, config: ProduceConfig) -> RetentionWatch | None:
    """What the topic does with event timestamps: a watch if it deletes by them."""
    try:
        retention = describe_retention(
            kafka, [config.topic], config.connect_timeout_s)[config.topic]
    except ShardlineError as exc:  # a check, not a reason to stop
        log.warning("could not read the retention of topic %s (%s): event timestamps older"
                    " than it will not be reported", config.topic, exc)
        return None
    if retention.timestamp_type == LOG_APPEND_TIME:
        log.warning("topic %s is message.timestamp.type=LogAppendTime: the broker replaces the"
                    " event timestamps with the time it appends each record", config.topic)
    watch = RetentionWatch([retention], writer="shardline produce", logger=log)
    return watch if watch.active else None
