"""Which plan an application's internal topics were made by: one record, checked at start-up.

What a repartition topic holds (rows or partial aggregates, keyed how, spread over its
partitions how) and what a changelog holds (the state of the operators of a stage) follow
from the application's plan. A worker of another plan — an upgrade that moved a shuffle or
changed its key, or an edited ``app.sql`` — would read them wrongly: rows in the partition of
another key, state it does not know. Kafka keeps no note of this, so the application keeps its
own: the compacted one-partition topic ``<application_id>-plan`` holds records keyed by a
fingerprint of the plan (the caller computes it; a SQL application's covers its repartitions
and the pumps behind them, :mod:`pipelines.sql.fingerprint`), each with a description of that
plan for the message.

The first record of the topic is the plan the internal topics were made by. A worker with the
same fingerprint goes on; a worker of another plan stops before it reads or writes anything,
naming the reset that forgets the old state. The first worker of an application writes the
record; two that start at once both write, and the one whose record came second stops (a
record is never replaced: compaction keeps the latest record of a *key*, and the keys are the
fingerprints). Resetting the application deletes the topic with the others.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from ground.errors import BrokerUnavailableError, ConfigError, KafkaUnreachableError
from ground.kafka import broker_away, ensure_topics
from ground.kafka_config import KafkaConfig
from pipelines.runtime.topics import TIMESTAMP_CONFIG

__all__ = ["PLAN_TOPIC_CONFIG", "check_plan", "plan_topic", "read_plans"]

log = logging.getLogger(__name__)

PLAN_TOPIC_CONFIG = {"cleanup.policy": "compact", **TIMESTAMP_CONFIG}
_TIMEOUT_S = 30.0


def _unreadable(kafka: KafkaConfig, topic: str, error: Any) -> BrokerUnavailableError:
    """The error for ``topic`` not read: transient (:class:`KafkaUnreachableError`, which the
    start-up wait waits out) when the cluster is restarting or electing a leader."""
    message = f"could not read {topic!r}: {kafka.redact(str(error))}"
    # a topic just made can be unknown to a broker still loading its metadata
    unknown = isinstance(error, KafkaError) and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    if broker_away(error) or unknown:
        return KafkaUnreachableError(message, endpoint=kafka.bootstrap, reason=error.str())
    return BrokerUnavailableError(message)


def plan_topic(application_id: str) -> str:
    """``<application_id>-plan``: the record of the plan its internal topics were made by."""
    return f"{application_id}-plan"


def check_plan(
    kafka: KafkaConfig,
    application_id: str,
    fingerprint: str,
    description: list[str],
    *,
    reset_command: str,
) -> None:
    """Record ``fingerprint`` as the application's plan if none is recorded; raise
    ConfigError when another one is (``reset_command`` is what forgets it)."""
    topic = plan_topic(application_id)
    ensure_topics(kafka, [topic], 1, config=PLAN_TOPIC_CONFIG)
    plans = read_plans(kafka, topic)
    if not plans:
        _write(kafka, topic, fingerprint, description)
        plans = read_plans(kafka, topic)
        log.info("application %s: recorded its plan %s in %s", application_id, fingerprint, topic)
    recorded, recorded_description = plans[0]
    if recorded == fingerprint:
        return
    was = "; ".join(recorded_description) or "no repartition"
    now = "; ".join(description) or "no repartition"
    raise ConfigError(
        "plan",
        f"application {application_id}: its changelogs and repartition topics were made by "
        f"another plan (plan {recorded}: {was}) than this one (plan {fingerprint}: {now}). The "
        "repartitions or the pumps behind them changed (an upgrade of Shardline, or an edit of "
        "the application's code): this worker would read their records wrongly. Stop the "
        f"application's workers and run `{reset_command}` (it deletes the consumer group, "
        "the changelogs, the repartition topics and this record; the next worker starts from "
        "each input's StartingPosition), or run the code that made them",
    )


def read_plans(kafka: KafkaConfig, topic: str) -> list[tuple[str, list[str]]]:
    """``(fingerprint, description)`` of every record of ``topic``, oldest first."""
    consumer = Consumer(kafka.client_config({
        "group.id": f"{topic}-reader",  # assigned, never joins nor commits
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_uncommitted",
    }))  # fmt: skip
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=_TIMEOUT_S)
        if high <= low:
            return []
        consumer.assign([TopicPartition(topic, 0, low)])
        out: list[tuple[str, list[str]]] = []
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return out
                raise _unreadable(kafka, topic, error)
            out.append(_decode(msg.key(), msg.value()))
            if (msg.offset() or 0) >= high - 1:
                return out
        raise KafkaUnreachableError(
            f"could not read {topic!r} in {_TIMEOUT_S:.0f}s", endpoint=kafka.bootstrap,
            reason=f"no answer in {_TIMEOUT_S:.0f}s",
        )  # fmt: skip
    except KafkaException as exc:
        raise _unreadable(kafka, topic, exc.args[0] if exc.args else exc) from exc
    finally:
        consumer.close()


def _decode(key: bytes | None, value: bytes | None) -> tuple[str, list[str]]:
    fingerprint = (key or b"").decode("utf-8", "replace")
    try:
        body: Any = orjson.loads(value or b"{}")
        description = [str(line) for line in body.get("plan", [])]
    except (orjson.JSONDecodeError, AttributeError):
        description = ["(unreadable)"]
    return fingerprint, description


def _write(kafka: KafkaConfig, topic: str, fingerprint: str, description: list[str]) -> None:
    producer = Producer(kafka.client_config({"enable.idempotence": True}))
    producer.produce(topic, orjson.dumps({"plan": description}), fingerprint.encode(), 0)
    if producer.flush(_TIMEOUT_S) > 0:  # a cluster restarting: waited out at start-up
        raise KafkaUnreachableError(
            f"could not write the plan record to {topic!r}", endpoint=kafka.bootstrap,
            reason=f"not delivered in {_TIMEOUT_S:.0f}s",
        )  # fmt: skip
