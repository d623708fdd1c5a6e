"""Small Kafka admin helpers shared by the stack, the producer, the workers and the tests."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ClusterMetadata, ConfigResource, NewTopic

from ground.errors import BrokerUnavailableError, ConfigError

__all__ = [
    "admin_client",
    "delete_topics_with_prefix",
    "ensure_topics",
    "partition_count",
    "topic_max_message_bytes",
    "wait_for_broker",
]

DEFAULT_TIMEOUT_S = 10.0
#: a new topic's replication factor: the broker's ``default.replication.factor``
REPLICATION_DEFAULT = -1


def admin_client(bootstrap: str) -> AdminClient:
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "log_level": 0, "logger": _quiet}
    return AdminClient(conf)


class _QuietLogger:
    def log(self, *_args: object, **_kwargs: object) -> None:  # librdkafka chatter
        pass


_quiet = _QuietLogger()


def wait_for_broker(bootstrap: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> ClusterMetadata:
    """Return cluster metadata, or raise BrokerUnavailableError after ``timeout_s``."""
    admin = admin_client(bootstrap)
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            if md.brokers:
                return md
        except KafkaException as exc:
            last = exc
        time.sleep(0.2)
    raise BrokerUnavailableError(
        f"no Kafka broker answered at {bootstrap} within {timeout_s:.0f}s"
        + (f" ({last})" if last else "")
        + "; start one with `shardline stack up` or set SHARDLINE_KAFKA_BOOTSTRAP"
    )


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int,
    *,
    config: dict[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Create the topics that do not exist yet. Existing topics are left as they are."""
    if partitions < 1:
        raise ConfigError("partitions", f"must be at least 1, got {partitions}")
    md = wait_for_broker(bootstrap, timeout_s)
    missing = [t for t in dict.fromkeys(topics) if t not in md.topics]
    if not missing:
        return
    admin = admin_client(bootstrap)
    futures = admin.create_topics(
        # replication: the cluster's default.replication.factor (1 on one node, 3 on three)
        [NewTopic(t, partitions, REPLICATION_DEFAULT, config=dict(config or {}))
         for t in missing],
        operation_timeout=timeout_s,
    )
    for topic, fut in futures.items():
        try:
            fut.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args and getattr(exc.args[0], "name", lambda: "")() == "TOPIC_ALREADY_EXISTS":
                continue
            raise BrokerUnavailableError(f"could not create topic {topic!r}: {exc}") from exc
    # Wait until metadata shows every partition with a leader.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=2.0)
        if all(
            t in md.topics
            and len(md.topics[t].partitions) >= partitions
            and all(p.leader >= 0 for p in md.topics[t].partitions.values())
            for t in missing
        ):
            return
        time.sleep(0.1)
    raise BrokerUnavailableError(f"topics {missing} have no leader after {timeout_s:.0f}s")


def partition_count(bootstrap: str, topic: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """Number of partitions of ``topic``; ConfigError naming the topic if it does not exist."""
    md = wait_for_broker(bootstrap, timeout_s)
    if topic not in md.topics or md.topics[topic].error is not None:
        raise ConfigError("topic", f"topic {topic!r} does not exist on {bootstrap}")
    return len(md.topics[topic].partitions)


def topic_max_message_bytes(
    bootstrap: str, topic: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> int:
    """The largest record ``topic`` accepts (its ``max.message.bytes``, the broker's default
    when the topic does not set it)."""
    admin = admin_client(bootstrap)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    try:
        configs = admin.describe_configs([resource])[resource].result(timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailableError(f"describing topic {topic!r}: {exc}") from exc
    return int(configs["max.message.bytes"].value)


def delete_topics_with_prefix(bootstrap: str, prefix: str, timeout_s: float = 60.0) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (a run's inputs, outputs,
    changelogs and Faust's internal topics); returns their names. Best effort: a topic
    already gone is not an error."""
    if not prefix:
        raise ConfigError("prefix", "an empty prefix would delete every topic")
    admin = admin_client(bootstrap)  # keep the handle alive until the futures resolve
    made = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix))
    if made:
        for fut in admin.delete_topics(made, operation_timeout=30).values():
            try:
                fut.result(timeout=timeout_s)
            except KafkaException:
                pass
    return made
