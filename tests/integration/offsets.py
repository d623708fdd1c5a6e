"""Reading a consumer group's committed offsets beside the topic's end offsets."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from shardline.settings import Settings


def committed_and_end(
    settings: Settings, group: str, topic: str, partitions: int
) -> tuple[dict[int, int], dict[int, int]]:
    """({partition: committed offset}, {partition: end offset}) for partitions 0..n-1."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
        end = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()
    return committed, end
