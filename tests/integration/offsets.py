"""Reading a consumer group's committed offsets beside the topic's end offsets."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from ground.settings import Settings


def committed_and_end(
    settings: Settings, group: str, topic: str, partitions: int
) -> tuple[dict[int, int], dict[int, int]]:
    """({partition: committed offset}, {partition: end offset}) for partitions 0..n-1."""
    consumer = Consumer(settings.kafka.client_config({"group.id": group}))
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        committed = {tp.partition: tp.offset for tp in _committed(consumer, tps)}
        end = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()
    return committed, end


#: How long to keep asking while the group coordinator is busy (e.g. fencing the
#: transactions of a worker just killed with -9, or loading its groups after a broker
#: restart): its answer is late, not wrong.
COMMITTED_BUDGET_S = 60
_LATE = {
    KafkaError._TIMED_OUT,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}


def _committed(consumer: Consumer, tps: list[TopicPartition]) -> list[TopicPartition]:
    deadline = time.monotonic() + COMMITTED_BUDGET_S
    while True:
        try:
            return consumer.committed(tps, timeout=10)
        except KafkaException as exc:
            if exc.args[0].code() not in _LATE or time.monotonic() > deadline:
                raise
