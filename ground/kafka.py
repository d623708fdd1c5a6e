"""Small Kafka admin helpers shared by the stack, the producer, the workers and the tests.

Each takes the :class:`~ground.kafka_config.KafkaConfig` of the cluster. :func:`wait_for_broker`
is every command's start-up check (the others call it first): a wrong password, an untrusted
certificate or an unreachable broker is one clear line naming Kafka and the setting to fix
(:mod:`ground.kafka_check`), never a secret.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, TypeGuard

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ClusterMetadata,
    ConfigResource,
    NewTopic,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from ground.errors import BrokerUnavailableError, ConfigError
from ground.kafka_check import ConnectionProblems
from ground.kafka_config import QUIET_LOGGER, KafkaConfig, error_text
from ground.secret import Secret

__all__ = [
    "LEADER_AWAY",
    "admin_client",
    "broker_away",
    "delete_consumer_group",
    "delete_topics",
    "delete_topics_with_prefix",
    "ensure_topics",
    "group_members",
    "list_topic_names",
    "partition_count",
    "topic_max_message_bytes",
    "upsert_scram_user",
    "wait_for_broker",
]

DEFAULT_TIMEOUT_S = 10.0
#: a new topic's replication factor: the broker's ``default.replication.factor``
REPLICATION_DEFAULT = -1
#: Answers of a broker that is restarting or whose partitions are still loading.
LEADER_AWAY = frozenset({
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT,
    KafkaError._ALL_BROKERS_DOWN,
    # the client's metadata lost the partition while the broker was away (a restart)
    KafkaError._UNKNOWN_PARTITION,
})  # fmt: skip


def broker_away(err: object) -> TypeGuard[KafkaError]:
    """Whether ``err`` (a call's :class:`KafkaError`) is retriable or says the broker is
    restarting or electing a leader (:data:`LEADER_AWAY`): worth trying again."""
    return isinstance(err, KafkaError) and (err.retriable() or err.code() in LEADER_AWAY)


def admin_client(kafka: KafkaConfig, *, problems: ConnectionProblems | None = None
                 ) -> AdminClient:
    """An admin client of ``kafka``, quiet; with ``problems``, what librdkafka reports
    (errors, warnings) is kept there."""
    settings: dict[str, Any] = {"log_level": 0, "logger": QUIET_LOGGER}
    if problems is not None:
        settings.update({"error_cb": problems.add, "logger": problems, "log_level": 6})
    try:
        return AdminClient(kafka.client_config(settings))
    except KafkaException as exc:
        raise kafka.config_error(error_text(exc)) from None


def wait_for_broker(kafka: KafkaConfig, timeout_s: float = DEFAULT_TIMEOUT_S) -> ClusterMetadata:
    """Return cluster metadata. Raise KafkaSecurityError as soon as the broker refuses the
    credentials or its certificate is not trusted, BrokerUnavailableError after
    ``timeout_s`` without an answer."""
    problems = ConnectionProblems(kafka)
    admin = admin_client(kafka, problems=problems)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            if md.brokers:
                return md
        except KafkaException as exc:
            problems.add(exc.args[0] if exc.args else exc)
        admin.poll(0)  # serves error_cb: what librdkafka saw while connecting
        problems.raise_if_fatal()
        time.sleep(0.2)
    admin.poll(0)
    problems.raise_if_fatal()
    raise problems.unavailable(timeout_s)


def ensure_topics(
    kafka: KafkaConfig,
    topics: Iterable[str],
    partitions: int,
    *,
    config: dict[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Create the topics that do not exist yet. Existing topics are left as they are."""
    if partitions < 1:
        raise ConfigError("partitions", f"must be at least 1, got {partitions}")
    md = wait_for_broker(kafka, timeout_s)
    missing = [t for t in dict.fromkeys(topics) if t not in md.topics]
    if not missing:
        return
    admin = admin_client(kafka)
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
            raise BrokerUnavailableError(
                f"could not create topic {topic!r}: {kafka.redact(str(exc))}"
            ) from exc
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


def partition_count(kafka: KafkaConfig, topic: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """Number of partitions of ``topic``; ConfigError naming the topic if it does not exist."""
    md = wait_for_broker(kafka, timeout_s)
    if topic not in md.topics or md.topics[topic].error is not None:
        raise ConfigError("topic", f"topic {topic!r} does not exist on {kafka.bootstrap}")
    return len(md.topics[topic].partitions)


def topic_max_message_bytes(
    kafka: KafkaConfig, topic: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> int:
    """The largest record ``topic`` accepts (its ``max.message.bytes``, the broker's default
    when the topic does not set it)."""
    admin = admin_client(kafka)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    try:
        configs = admin.describe_configs([resource])[resource].result(timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailableError(
            f"describing topic {topic!r}: {kafka.redact(str(exc))}"
        ) from exc
    return int(configs["max.message.bytes"].value)


def delete_topics_with_prefix(
    kafka: KafkaConfig, prefix: str, timeout_s: float = 60.0
) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (a run's inputs, outputs,
    changelogs and Faust's internal topics); returns their names. Best effort: a topic
    already gone is not an error."""
    if not prefix:
        raise ConfigError("prefix", "an empty prefix would delete every topic")
    admin = admin_client(kafka)  # keep the handle alive until the futures resolve
    made = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix))
    if made:
        for fut in admin.delete_topics(made, operation_timeout=30).values():
            try:
                fut.result(timeout=timeout_s)
            except KafkaException:
                pass
    return made


def upsert_scram_user(
    kafka: KafkaConfig,
    user: str,
    password: Secret,
    mechanism: str = "SCRAM-SHA-512",
    *,
    iterations: int = 8192,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Create ``user`` with ``password`` for SCRAM ``mechanism``, or set its password."""
    try:
        scram = ScramMechanism[mechanism.replace("-", "_").upper()]
    except KeyError:
        raise ConfigError("mechanism", f"SCRAM-SHA-256 or SCRAM-SHA-512, got {mechanism!r}"
                          ) from None
    admin = admin_client(kafka)
    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(scram, iterations), password.reveal().encode()
    )
    try:
        for fut in admin.alter_user_scram_credentials([upsert]).values():
            fut.result(timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailableError(
            f"could not set the SCRAM credentials of {user!r}: {kafka.redact(str(exc))}"
        ) from exc


def list_topic_names(kafka: KafkaConfig, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[str]:
    """The names of the cluster's topics."""
    return sorted(wait_for_broker(kafka, timeout_s).topics)


def delete_topics(kafka: KafkaConfig, topics: Iterable[str], timeout_s: float = 60.0) -> list[str]:
    """Delete ``topics``; returns those that existed and are gone. BrokerUnavailableError
    names a topic that could not be deleted."""
    admin = admin_client(kafka)
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = sorted(t for t in dict.fromkeys(topics) if t in existing)
    if not doomed:
        return []
    for topic, fut in admin.delete_topics(doomed, operation_timeout=30).items():
        try:
            fut.result(timeout=timeout_s)
        except KafkaException as exc:
            if getattr(exc.args[0], "name", lambda: "")() == "UNKNOWN_TOPIC_OR_PART":
                continue
            raise BrokerUnavailableError(
                f"could not delete topic {topic!r}: {kafka.redact(str(exc))}"
            ) from exc
    return doomed


def group_members(kafka: KafkaConfig, group: str, timeout_s: float = 30.0) -> list[str]:
    """The members of a consumer group, each as ``client id (host)``: empty when the group
    has none or does not exist. BrokerUnavailableError when it cannot be described."""
    admin = admin_client(kafka)
    fut = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group]
    try:
        description = fut.result(timeout=timeout_s)
    except KafkaException as exc:
        if getattr(exc.args[0], "name", lambda: "")() == "GROUP_ID_NOT_FOUND":
            return []
        raise BrokerUnavailableError(
            f"could not describe consumer group {group!r}: {kafka.redact(str(exc))}"
        ) from exc
    return [f"{m.client_id} ({m.host.lstrip('/')})" for m in description.members]


def delete_consumer_group(kafka: KafkaConfig, group: str, timeout_s: float = 30.0) -> bool:
    """Delete a consumer group (its committed offsets); False when there was none.
    BrokerUnavailableError when it cannot be deleted (members still in it: stop them)."""
    admin = admin_client(kafka)
    fut = admin.delete_consumer_groups([group], request_timeout=timeout_s)[group]
    try:
        fut.result(timeout=timeout_s)
    except KafkaException as exc:
        name = getattr(exc.args[0], "name", lambda: "")()
        if name == "GROUP_ID_NOT_FOUND":
            return False
        if name == "NON_EMPTY_GROUP":
            raise BrokerUnavailableError(
                f"consumer group {group!r} still has members: stop its workers first"
            ) from exc
        raise BrokerUnavailableError(
            f"could not delete consumer group {group!r}: {kafka.redact(str(exc))}"
        ) from exc
    return True
