"""How far behind each consumer group is: pipelines and delivery streams alike.

Kafka's view of Firehose's ``DataFreshness`` and KDA's ``MillisBehindLatest``: for every
consumer group, per topic, the committed offsets against the end offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from ground.errors import BrokerUnavailableError
from ground.kafka import admin_client, wait_for_broker
from ground.kafka_config import KafkaConfig

__all__ = ["GroupLag", "PartitionLag", "group_lag"]

INTERNAL_PREFIXES = ("_", "shardline-verify-")


@dataclass(frozen=True, slots=True)
class PartitionLag:
    partition: int
    committed: int | None  # None: the group never committed this partition
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    topic: str
    partitions: int
    committed: int  # sum of committed offsets (partitions without a commit count as 0)
    end: int  # sum of end offsets
    uncommitted_partitions: int
    by_partition: tuple[PartitionLag, ...] = field(default=())

    @property
    def lag(self) -> int:
        return self.end - self.committed


def group_lag(kafka: KafkaConfig, timeout_s: float = 10.0) -> list[GroupLag]:
    """Lag of every consumer group on every topic it committed offsets for."""
    wait_for_broker(kafka, timeout_s)
    admin = admin_client(kafka)
    try:
        listed = admin.list_consumer_groups(request_timeout=timeout_s).result()
        groups = sorted(
            g.group_id for g in listed.valid if not g.group_id.startswith(INTERNAL_PREFIXES)
        )
        committed: dict[tuple[str, str], dict[int, int]] = {}
        for group in groups:
            futures = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=timeout_s
            )
            result = futures[group].result()
            for tp in result.topic_partitions or []:
                committed.setdefault((group, tp.topic), {})[tp.partition] = max(tp.offset, 0)
        topics = {topic for _, topic in committed}
        md = admin.list_topics(timeout=timeout_s)
        requests = {
            TopicPartition(t, p): OffsetSpec.latest()
            for t in topics
            if t in md.topics
            for p in md.topics[t].partitions
        }
        ends: dict[tuple[str, int], int] = {}
        if requests:
            for tp, fut in admin.list_offsets(requests, request_timeout=timeout_s).items():
                ends[(tp.topic, tp.partition)] = fut.result().offset
    except KafkaException as exc:
        raise BrokerUnavailableError(
            f"could not read consumer groups from {kafka.bootstrap}: {kafka.redact(str(exc))}"
        ) from exc
    out = []
    for (group, topic), offsets in sorted(committed.items()):
        parts = sorted(p for t, p in ends if t == topic)
        if not parts:
            continue
        out.append(
            GroupLag(
                group=group,
                topic=topic,
                partitions=len(parts),
                committed=sum(offsets.get(p, 0) for p in parts),
                end=sum(ends[(topic, p)] for p in parts),
                uncommitted_partitions=sum(1 for p in parts if p not in offsets),
                by_partition=tuple(
                    PartitionLag(p, offsets.get(p), ends[(topic, p)]) for p in parts
                ),
            )
        )
    return out
