"""Time-based retention of Kafka topics: which records the broker deletes for their timestamp.

A topic whose ``cleanup.policy`` includes ``delete`` loses a log segment once the newest
timestamp in it is older than the topic's ``retention.ms`` (7 days by default), at the
broker's next retention check (``log.retention.check.interval.ms``, every 5 minutes by
default). Which timestamp counts depends on ``message.timestamp.type``:

* ``CreateTime`` (Kafka's default): the one the producer gave. A record written *now* with a
  timestamp 30 days old — data replayed from an archive, or a result whose ROWTIME came from
  such data — is deleted minutes after it was written.
* ``LogAppendTime``: the broker stamps the time it appended the record, so retention counts
  from when it was written, whatever the age of the data.

:func:`describe_retention` reads what decides it from the broker; :class:`RetentionWatch`
counts the records a writer gives timestamps its topic deletes at once, and warns the first
time per topic, naming the topic and the age.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import ConfigResource

from ground.clock import Clock, wall_ms
from ground.errors import BrokerUnavailableError
from ground.kafka import DEFAULT_TIMEOUT_S, admin_client
from ground.kafka_config import KafkaConfig

__all__ = [
    "BACKFILL_DOC",
    "CREATE_TIME",
    "LOG_APPEND_TIME",
    "RetentionWatch",
    "TopicRetention",
    "describe_retention",
    "format_age",
]

log = logging.getLogger(__name__)

CREATE_TIME = "CreateTime"
LOG_APPEND_TIME = "LogAppendTime"
#: Where users read how to replay history safely.
BACKFILL_DOC = "docs/backfill.md"


@dataclass(frozen=True, slots=True)
class TopicRetention:
    """What decides whether ``topic`` deletes a record because of its timestamp.

    ``retention_ms`` is ``None`` when nothing is deleted by time: ``retention.ms`` -1, or a
    ``cleanup.policy`` without ``delete`` (compaction alone keeps every key's latest value).
    """

    topic: str
    timestamp_type: str
    retention_ms: int | None
    cleanup_policy: frozenset[str] = frozenset({"delete"})

    @classmethod
    def from_configs(cls, topic: str, configs: Mapping[str, str]) -> TopicRetention:
        """From a topic's effective configs (``describe_configs``: topic value or broker
        default), e.g. ``{"retention.ms": "604800000", "cleanup.policy": "delete",
        "message.timestamp.type": "CreateTime"}``; a missing key takes Kafka's default."""
        policy = frozenset(
            p.strip() for p in configs.get("cleanup.policy", "delete").split(",") if p.strip()
        )
        retention = int(configs.get("retention.ms", "604800000"))
        return cls(
            topic,
            configs.get("message.timestamp.type", CREATE_TIME),
            retention if retention >= 0 and "delete" in policy else None,
            policy,
        )

    @property
    def deletes_by_record_time(self) -> bool:
        """Records are deleted by the age of the timestamps their producers gave them."""
        return self.timestamp_type != LOG_APPEND_TIME and self.retention_ms is not None

    def expired(self, timestamp_ms: int, now_ms: int) -> bool:
        """A record written at ``now_ms`` with ``timestamp_ms`` goes at the next check."""
        return (
            self.deletes_by_record_time
            and timestamp_ms > 0
            and now_ms - timestamp_ms > (self.retention_ms or 0)
        )


def describe_retention(
    kafka: KafkaConfig, topics: Iterable[str], timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, TopicRetention]:
    """The retention of each of ``topics`` (which must exist), as the broker applies it."""
    names = list(dict.fromkeys(topics))
    if not names:
        return {}
    admin = admin_client(kafka)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in names]
    out: dict[str, TopicRetention] = {}
    for resource, future in admin.describe_configs(resources).items():
        try:
            entries = future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise BrokerUnavailableError(
                f"describing topic {resource.name!r}: {kafka.redact(str(exc))}"
            ) from exc
        configs = {name: entry.value for name, entry in entries.items() if entry.value is not None}
        out[resource.name] = TopicRetention.from_configs(resource.name, configs)
    return out


def format_age(ms: int) -> str:
    """``ms`` for people: ``"30.0 days"``, ``"5.2 hours"``, ``"40 s"``."""
    if ms >= 86_400_000:
        return f"{ms / 86_400_000:.1f} days"
    if ms >= 3_600_000:
        return f"{ms / 3_600_000:.1f} hours"
    return f"{ms // 1000} s"


class RetentionWatch:
    """Counts records written with a timestamp their topic's retention has already passed.

    Such a record is deleted by the broker at its next retention check, minutes after it was
    written. The first one per topic is logged as a warning naming the topic, the record's
    age and the topic's ``retention.ms``; the rest are counted (:attr:`counts`). Topics that
    do not delete by record time (LogAppendTime, no time retention) are not watched, so
    :attr:`active` tells a writer whether checking is worth its time at all. Ages are taken
    on ``clock`` (the broker judges by its wall clock).
    """

    def __init__(
        self,
        retentions: Iterable[TopicRetention],
        *,
        writer: str,
        logger: logging.Logger = log,
        clock: Clock = wall_ms,
    ) -> None:
        self._limits = {
            r.topic: r.retention_ms
            for r in retentions
            if r.deletes_by_record_time and r.retention_ms is not None
        }
        self.writer = writer
        self.counts: Counter[str] = Counter()
        self._log = logger
        self.clock = clock

    @property
    def active(self) -> bool:
        return bool(self._limits)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, records: Iterable[tuple[str, int | None]]) -> int:
        """:meth:`check` each ``(topic, timestamp_ms)`` written now; how many go at once."""
        now, check = self.clock(), self.check
        return sum(check(topic, ts, now) for topic, ts in records)

    def check(self, topic: str, timestamp_ms: int | None, now_ms: int) -> bool:
        """Count (and the first time, warn about) a record of ``topic`` stamped
        ``timestamp_ms`` and written at ``now_ms`` if its topic deletes it at once."""
        limit = self._limits.get(topic)
        if limit is None or not timestamp_ms or timestamp_ms < 0:
            return False
        age = now_ms - timestamp_ms
        if age <= limit:
            return False
        self.counts[topic] += 1
        if self.counts[topic] == 1:
            self._log.warning(
                "%s wrote a record to topic %s with a timestamp %s old, older than the topic's"
                " retention.ms (%d, %s, CreateTime): the broker deletes it at its next"
                " retention check, within minutes. Make the topic"
                " message.timestamp.type=LogAppendTime or give it a longer retention.ms (see"
                " %s); further such records are counted, not logged",
                self.writer, topic, format_age(age), limit, format_age(limit), BACKFILL_DOC,
            )  # fmt: skip
        return True
