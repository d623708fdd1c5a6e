"""The runtime's configuration: one frozen object, validated when it is built.

The named defaults and ranges here are the only ones of the runtime's knobs: a SQL
application's ``Runtime`` section (:class:`pipelines.sql.appconfig.RuntimeOptions`) uses
them, and :meth:`pipelines.sql.application.SqlApplication.runtime_config` turns it into a
:class:`RuntimeConfig`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ground.errors import ConfigError

__all__ = [
    "ASSIGNMENT_STRATEGIES",
    "DEFAULT_ASSIGNMENT_STRATEGY",
    "DEFAULT_BATCH_MAX_RECORDS",
    "DEFAULT_COMMIT_INTERVAL_MS",
    "DEFAULT_COMMIT_MAX_RECORDS",
    "DEFAULT_IDLE_CHECK_INTERVAL_MS",
    "DEFAULT_IDLE_TIMEOUT_MS",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_OPERATION_TIMEOUT_MS",
    "DEFAULT_SESSION_TIMEOUT_MS",
    "DEFAULT_TRANSACTION_TIMEOUT_MS",
    "LAST_STOPPED_POINT",
    "MAX_MESSAGE_BYTES",
    "NOW",
    "SESSION_TIMEOUT_RANGE_MS",
    "STARTING_POSITIONS",
    "TRANSACTION_TIMEOUT_RANGE_MS",
    "TRIM_HORIZON",
    "RuntimeConfig",
    "changelog_topic",
]

NOW = "NOW"
TRIM_HORIZON = "TRIM_HORIZON"
LAST_STOPPED_POINT = "LAST_STOPPED_POINT"
STARTING_POSITIONS = (NOW, TRIM_HORIZON, LAST_STOPPED_POINT)
ASSIGNMENT_STRATEGIES = ("cooperative-sticky", "range", "roundrobin")

# One named default per knob. A SQL application's ``Runtime`` and ``EventTime`` sections
# (pipelines.sql.appconfig) take theirs from here.
DEFAULT_COMMIT_INTERVAL_MS = 200
DEFAULT_COMMIT_MAX_RECORDS = 100_000
#: Records per ``consume()`` call, and per partition between two takes of a processor's
#: changes. 1,000 is what SQL applications (``shardline run``) have always run with; the
#: benchmarks pass 5,000.
DEFAULT_BATCH_MAX_RECORDS = 1_000
DEFAULT_IDLE_CHECK_INTERVAL_MS = 1_000
#: A caught-up partition that receives nothing for this long gets ``on_idle`` (for a SQL
#: application: it no longer holds back event time).
DEFAULT_IDLE_TIMEOUT_MS = 65_000
#: The broker aborts a transaction left open this long (a worker killed mid-transaction that
#: is not restarted). Until then it holds back read_committed readers of the topics it wrote
#: and a new owner's restore of the partitions it held, so keep it modest.
DEFAULT_TRANSACTION_TIMEOUT_MS = 30_000
TRANSACTION_TIMEOUT_RANGE_MS = (1_000, 900_000)
#: How long a dead worker keeps its partitions before the group hands them on.
DEFAULT_SESSION_TIMEOUT_MS = 10_000
SESSION_TIMEOUT_RANGE_MS = (1_000, 300_000)
DEFAULT_OPERATION_TIMEOUT_MS = 30_000
DEFAULT_ASSIGNMENT_STRATEGY = "cooperative-sticky"
#: The largest record the worker writes (librdkafka's and Kafka's default is about 1 MB).
#: Output topics the runtime creates get a ``max.message.bytes`` to match.
DEFAULT_MAX_MESSAGE_BYTES = 1_000_000
MAX_MESSAGE_BYTES = (1_000, 64 * 1024 * 1024)

# Kafka topic names: 1-249 of [a-zA-Z0-9._-]; the changelog name adds to the app id.
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def changelog_topic(application_id: str, source_topic: str) -> str:
    """The compacted topic that keeps the state of ``source_topic``'s partitions. An
    internal topic of the application (``<application_id>-…``, a repartition topic) keeps
    its name: ``<topic>-changelog``."""
    if source_topic.startswith(f"{application_id}-") and source_topic.endswith("-repartition"):
        return f"{source_topic}-changelog"
    return f"{application_id}-{source_topic}-changelog"


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """How one exactly-once application runs.

    ``application_id`` is the consumer group, the ``transactional.id`` prefix and the
    changelog topic prefix. ``starting_position`` only applies to partitions that have no
    committed offset yet: a restarted or rebalanced worker always resumes where the last
    transaction committed (anything else would lose or duplicate records). ``NOW`` starts at
    the end, ``TRIM_HORIZON`` and ``LAST_STOPPED_POINT`` at the beginning.
    """

    application_id: str
    source_topics: tuple[str, ...]
    starting_position: str = TRIM_HORIZON
    commit_interval_ms: int = DEFAULT_COMMIT_INTERVAL_MS
    commit_max_records: int = DEFAULT_COMMIT_MAX_RECORDS
    batch_max_records: int = DEFAULT_BATCH_MAX_RECORDS
    idle_check_interval_ms: int = DEFAULT_IDLE_CHECK_INTERVAL_MS
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS
    instance_id: str | None = None
    output_topics: tuple[str, ...] = ()
    output_partitions: int | None = None
    transaction_timeout_ms: int = DEFAULT_TRANSACTION_TIMEOUT_MS
    session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS
    operation_timeout_ms: int = DEFAULT_OPERATION_TIMEOUT_MS
    assignment_strategy: str = DEFAULT_ASSIGNMENT_STRATEGY
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    #: ``(topic, partitions)`` of the application's repartition topics: created by the
    #: worker, consumed like the sources (from their beginning, whatever the starting
    #: position), each with its changelog; their records are purged once committed.
    repartition_topics: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.application_id):
            raise ConfigError(
                "application_id", f"1-200 characters of [A-Za-z0-9._-], got {self.application_id!r}"
            )
        if isinstance(self.source_topics, str) or not self.source_topics:
            raise ConfigError("source_topics", "a non-empty tuple of topic names")
        for name, topics in (
            ("source_topics", self.source_topics),
            ("output_topics", self.output_topics),
        ):
            for t in topics:
                if not isinstance(t, str) or not _NAME.match(t):
                    raise ConfigError(name, f"not a topic name: {t!r}")
            if len(set(topics)) != len(topics):
                raise ConfigError(name, f"duplicate topics in {topics}")
        if clash := set(self.source_topics) & set(self.output_topics):
            raise ConfigError("output_topics", f"also source topics: {sorted(clash)}")
        for t in self.source_topics:
            if len(changelog_topic(self.application_id, t)) > 249:
                raise ConfigError(
                    "application_id",
                    f"changelog topic of {t!r} would exceed Kafka's 249 characters",
                )
        if self.starting_position not in STARTING_POSITIONS:
            raise ConfigError(
                "starting_position", f"one of {STARTING_POSITIONS}, got {self.starting_position!r}"
            )
        if self.assignment_strategy not in ASSIGNMENT_STRATEGIES:
            raise ConfigError(
                "assignment_strategy",
                f"one of {ASSIGNMENT_STRATEGIES}, got {self.assignment_strategy!r}",
            )
        for name in (
            "commit_interval_ms",
            "commit_max_records",
            "batch_max_records",
            "idle_check_interval_ms",
            "idle_timeout_ms",
            "operation_timeout_ms",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(name, f"a positive integer, got {value!r}")
        low, high = MAX_MESSAGE_BYTES
        if (not isinstance(self.max_message_bytes, int) or isinstance(self.max_message_bytes, bool)
                or not low <= self.max_message_bytes <= high):
            raise ConfigError("max_message_bytes", f"{low}..{high}, got {self.max_message_bytes!r}")
        low, high = TRANSACTION_TIMEOUT_RANGE_MS
        if not low <= self.transaction_timeout_ms <= high:
            raise ConfigError(
                "transaction_timeout_ms", f"{low}..{high}, got {self.transaction_timeout_ms!r}"
            )
        if self.commit_interval_ms * 4 > self.transaction_timeout_ms:
            raise ConfigError(
                "commit_interval_ms",
                f"{self.commit_interval_ms} is too close to transaction_timeout_ms "
                f"{self.transaction_timeout_ms} (at most a quarter of it)",
            )
        low, high = SESSION_TIMEOUT_RANGE_MS
        if not low <= self.session_timeout_ms <= high:
            raise ConfigError(
                "session_timeout_ms", f"{low}..{high}, got {self.session_timeout_ms!r}"
            )
        if self.instance_id is not None and not _NAME.match(self.instance_id):
            raise ConfigError(
                "instance_id", f"1-200 characters of [A-Za-z0-9._-], got {self.instance_id!r}"
            )
        if self.output_partitions is not None and self.output_partitions < 1:
            raise ConfigError("output_partitions", f"at least 1, got {self.output_partitions}")
        prefix = f"{self.application_id}-"
        for topic, partitions in self.repartition_topics:
            if not topic.startswith(prefix) or not topic.endswith("-repartition"):
                raise ConfigError(
                    "repartition_topics", f"{topic!r} is not {prefix}<name>-repartition"
                )
            if len(changelog_topic(self.application_id, topic)) > 249:
                raise ConfigError(
                    "repartition_topics", f"the changelog of {topic!r} exceeds 249 characters"
                )
            if not isinstance(partitions, int) or partitions < 1:
                raise ConfigError("repartition_topics", f"{topic}: {partitions!r} partitions")
        internal = [t for t, _ in self.repartition_topics]
        if len(set(internal)) != len(internal) or set(internal) & {
            *self.source_topics, *self.output_topics
        }:
            raise ConfigError("repartition_topics", f"duplicated topics in {internal}")

    @property
    def internal_topics(self) -> tuple[str, ...]:
        """The repartition topics."""
        return tuple(t for t, _ in self.repartition_topics)

    @property
    def consumed_topics(self) -> tuple[str, ...]:
        """What the worker's consumer subscribes to: the sources and the repartitions."""
        return (*self.source_topics, *self.internal_topics)

    def changelog_topics(self) -> dict[str, str]:
        """``{consumed topic: changelog topic}``"""
        return {t: changelog_topic(self.application_id, t) for t in self.consumed_topics}
