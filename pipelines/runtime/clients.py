"""Every Kafka client setting the runtime chooses, in one place.

The worker's transactional producer and read_committed group consumer
(:mod:`pipelines.runtime.loop` creates them), the changelog reader's two consumers
(:mod:`pipelines.runtime.changelog`) and the admin client that purges repartition topics
(:mod:`pipelines.runtime.purge`). The modules that run the clients only call these
functions. Each is the deployment's client configuration (:mod:`ground.kafka_config`:
brokers, security, the consumers' fetch tuning) with the runtime's own settings on top.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from ground.kafka_config import KafkaConfig, consumer_fetch_config
from pipelines.runtime.config import NOW, RuntimeConfig

__all__ = [
    "CONSUMER_FETCH_CONFIG",
    "admin_config",
    "changelog_configs",
    "consumer_config",
    "producer_config",
]

#: The worker consumer's fetch tuning: every long-running consumer's, from the one place
#: that builds Kafka client configuration (:func:`ground.kafka_config.consumer_fetch_config`).
CONSUMER_FETCH_CONFIG: dict[str, int] = consumer_fetch_config()

#: How long the transactional producer lets records gather before it sends them. A
#: transaction's records are seen by read_committed readers only when it commits, and the
#: commit sends whatever still waits, so waiting longer delays no reader; it only makes
#: fewer, fuller produce requests (Kafka Streams' producers wait 100 ms too). 5 ms sent a
#: request for every few records of a repartition topic's partials and markers: at 100 ms
#: the per-sector benchmark (``benchmarks/repartition.py``, 4,000,000 records, two workers)
#: made a third fewer produce requests, the broker used ~0.5 CPU s less, and two workers
#: did 1.71x one worker's records/s instead of 1.58x.
TRANSACTIONAL_LINGER_MS = 100

_LIBRDKAFKA_LOG = logging.getLogger("pipelines.runtime.librdkafka")


def producer_config(
    config: RuntimeConfig, kafka: KafkaConfig, transactional_id: str
) -> dict[str, Any]:
    """The worker's transactional producer."""
    return kafka.client_config({
        "transactional.id": transactional_id,
        "transaction.timeout.ms": config.transaction_timeout_ms,
        "message.timeout.ms": config.transaction_timeout_ms,
        "linger.ms": TRANSACTIONAL_LINGER_MS,
        "message.max.bytes": max(config.max_message_bytes + 4096, 1_000_000),
        "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "partitioner": "murmur2_random",  # what the Java clients do for keys
        "logger": _LIBRDKAFKA_LOG,
    })


def consumer_config(config: RuntimeConfig, kafka: KafkaConfig, client_id: str) -> dict[str, Any]:
    """The worker's read_committed consumer in the application's group."""
    return kafka.client_config({
        "group.id": config.application_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,  # tells idle detection the partition is caught up
        "auto.offset.reset": "latest" if config.starting_position == NOW else "earliest",
        "partition.assignment.strategy": config.assignment_strategy,
        "session.timeout.ms": config.session_timeout_ms,
        "heartbeat.interval.ms": max(100, config.session_timeout_ms // 4),
        "logger": _LIBRDKAFKA_LOG,
    }, tuning=CONSUMER_FETCH_CONFIG)


def changelog_configs(
    kafka: KafkaConfig, application_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The changelog reader's two consumers, assigned partitions and never in a group: the
    read_committed reader, and the probe that asks for high watermarks."""
    common: dict[str, Any] = {
        "group.id": f"{application_id}-restore-{uuid.uuid4().hex[:8]}",  # never joins
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }
    reader = kafka.client_config({
        **common,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 10,  # reading to the end: do not linger there
    })
    # The high watermark (read_uncommitted): a read_committed query returns the LSO.
    probe = kafka.client_config({**common, "isolation.level": "read_uncommitted"})
    return reader, probe


def admin_config(kafka: KafkaConfig) -> dict[str, Any]:
    """The admin client that deletes committed records of repartition topics."""
    return kafka.client_config({"logger": _LIBRDKAFKA_LOG})
