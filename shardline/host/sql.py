"""The exactly-once runtime of one SQL application (or any processor factory) as a service.

Not imported by ``shardline.host`` itself: importing ``pipelines`` loads the SQL engine
(sqlglot and the planner, about 60 MB of RSS), which a delivery process does not need.
``HostApp.add_sql_application`` imports it when it is called.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from ground.clock import Clock, wall_ms
from ground.settings import Settings
from pipelines.runtime import ProcessorFactory, RunStats, RuntimeConfig, StreamRuntime
from shardline.host.service import LoopService

if TYPE_CHECKING:
    from pipelines.sql.application import SqlApplication

__all__ = ["RUNTIME_COUNTERS", "SqlOutput", "SqlService"]

#: Added to the commit and close the runtime does when stopped (a few operation timeouts).
SHUTDOWN_SLACK_S = 5.0

#: ``RunStats`` field → (Prometheus counter name without ``_total``, help); labelled by
#: ``application``. Integers the runtime's thread updates, read without a lock.
RUNTIME_COUNTERS: dict[str, tuple[str, str]] = {
    "records": ("shardline_runtime_records", "Records processed by the SQL runtime."),
    "outputs": ("shardline_runtime_outputs", "Output records written in transactions."),
    "commits": ("shardline_runtime_commits", "Kafka transactions committed."),
    "aborts": ("shardline_runtime_aborts", "Kafka transactions aborted (and replayed)."),
    "rebalances": ("shardline_runtime_rebalances", "Consumer group rebalances seen."),
    "producer_resets": ("shardline_runtime_producer_resets",
                        "Transactional producers replaced after a fatal error."),
    "restored_keys": ("shardline_runtime_restored_keys",
                      "State keys read back from changelog topics."),
}


class SqlOutput(NamedTuple):
    """An output stream of a SQL application: its topic and record format (JSON or CSV)."""

    topic: str
    record_format: str


class SqlService(LoopService):
    """Runs :class:`~pipelines.runtime.StreamRuntime` (consume → process → produce in Kafka
    transactions) on its own thread; a stop request lets it commit and leave the group."""

    kind: ClassVar[str] = "sql"
    COUNTERS: ClassVar[Mapping[str, str]] = dict(RUNTIME_COUNTERS.values())
    COUNTER_LABEL: ClassVar[str] = "application"

    def __init__(
        self,
        config: RuntimeConfig,
        settings: Settings,
        factory: ProcessorFactory,
        *,
        clock: Clock = wall_ms,
        until_idle_ms: int | None = None,
        outputs: Mapping[str, SqlOutput] | None = None,
        on_poll: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            config.application_id,
            shutdown_timeout_s=3 * config.operation_timeout_ms / 1000 + SHUTDOWN_SLACK_S,
            **kwargs,
        )
        self.config = config
        self.group_id = config.application_id
        #: The output streams of a SQL application, by name (what user agents read).
        self.outputs: dict[str, SqlOutput] = dict(outputs or {})
        self.stop_event = threading.Event()
        self.runtime = StreamRuntime(
            config, settings, factory, stop=self.stop_event, clock=clock,
            until_idle_ms=until_idle_ms, on_poll=on_poll,
        )  # fmt: skip

    @classmethod
    def for_application(
        cls,
        app: SqlApplication,
        *,
        instance_id: str | None = None,
        until_idle_ms: int | None = None,
        clock: Clock = wall_ms,
    ) -> SqlService:
        """The service of a loaded KDA SQL application (``load_sql_application``)."""
        # The SQL engine (sqlglot, its planner) costs ~50 MB of RSS: imported only by hosts
        # that run SQL, not by ``shardline deliver``.
        from pipelines.sql.plan import ERROR_STREAM

        config = app.config
        outputs = {o.name: SqlOutput(o.topic, str(o.record_format_type)) for o in config.outputs}
        error = config.error_output
        outputs[ERROR_STREAM] = SqlOutput(error.topic, str(error.record_format_type))
        return cls(
            app.runtime_config(instance_id=instance_id), app.settings, app.processor,
            clock=clock, until_idle_ms=until_idle_ms, outputs=outputs, on_poll=app.new_poll,
        )  # fmt: skip

    @property
    def stats(self) -> RunStats:
        """The runtime's counters, updated live by its thread."""
        return self.runtime.stats

    def run_loop(self) -> RunStats:
        return self.runtime.run()

    def request_stop(self) -> None:
        self.stop_event.set()

    def is_running(self) -> bool:
        # The runtime claims its instance id once its topics are prepared, right before it
        # opens its consumer and producer.
        return bool(self.runtime.stats.instance_id)

    def counters(self) -> Mapping[str, int]:
        stats = self.runtime.stats
        return {name: getattr(stats, field) for field, (name, _) in RUNTIME_COUNTERS.items()}

    def describe(self) -> dict[str, Any]:
        stats = self.runtime.stats
        return {
            "application_id": self.config.application_id,
            "instance_id": stats.instance_id,
            "source_topics": list(self.config.source_topics),
            "records": stats.records,
            "commits": stats.commits,
            "aborts": stats.aborts,
        }
