"""The process host: a ``faust.App`` whose worker runs Shardline's loops as services.

One host carries ``shardline run`` (a SQL application), ``shardline deliver`` (delivery
streams) and a Faust user's own agents beside either::

    app = HostApp("ticker-alerts", Settings.from_env(), web_port=6066)
    sql = app.add_sql_application("examples/faust_agents/ticker_windows")

    @app.agent(app.sql_output(sql, "DESTINATION_SQL_STREAM"))
    async def alerts(windows):
        async for window in windows:
            ...

and ``faust -A module worker`` (or ``app.main()``) runs it. What Faust does here:

* **lifecycle** — the worker starts the services in order (web server, Shardline's loops,
  then Faust's Kafka consumer and the agents), stops them in reverse on SIGTERM/SIGINT, and
  stops by itself once every loop returned (``--until-idle``) or as soon as one failed;
* **web** — ``/health`` and ``/metrics`` on Faust's aiohttp server (:mod:`.web`), bound to
  127.0.0.1 unless told otherwise, off unless a port is given (``faust worker`` turns it on);
* **user agents** — Faust's Kafka clients start only when the app has agents or tables; its
  consumer then reads ``read_committed`` (:mod:`.kafka`), and its group is the app's id,
  which must differ from every hosted SQL application's (their consumer groups).

Shardline's own reads and writes never go through Faust: each loop keeps its confluent-kafka
clients (exactly-once transactions for SQL; commit-after-delivery for deliveries). See
``docs/faust.md`` for why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import faust
from faust.app.base import BootStrategy
from faust.types import TransportT
from faust.web import Web
from prometheus_client import CollectorRegistry

from connectors import DeliveryWorker, PrometheusMetrics
from ground.errors import ConfigError
from ground.kafka import ensure_topics
from ground.settings import Settings
from shardline.host.credentials import faust_credentials
from shardline.host.delivery import DeliveryService
from shardline.host.documents import DocumentTopic
from shardline.host.kafka import ReadCommittedTransport
from shardline.host.metrics import HostCollector
from shardline.host.service import LoopService, ServiceState
from shardline.host.web import DEFAULT_WEB_HOST, VIEWS, HostWeb
from shardline.host.worker import HostWorker

if TYPE_CHECKING:
    from pipelines.sql.application import SqlApplication
    from shardline.host.sql import SqlService

__all__ = ["HostApp"]

S = TypeVar("S", bound=LoopService)


class _HostBoot(BootStrategy):
    """Faust's start-up graph with Shardline's services after the web server and before the
    Kafka consumer (so user agents find the SQL outputs' topics, and ``/health`` answers
    while the loops drain). Kafka clients and sensors only for agents or tables."""

    def server(self) -> Iterable[Any]:
        app = cast(HostApp, self.app)
        self.enable_kafka = app.uses_kafka()
        self.enable_sensors = self.enable_kafka
        if self.enable_kafka:
            app.check_groups()
            app.conf.broker_credentials = faust_credentials(app.settings.kafka)
        return self._chain(
            self.sensors(),
            self.kafka_producer(),
            self.web_server(),
            app.services,
            self.kafka_consumer(),
            self.agents(),
            self.kafka_conductor(),
            self.tables(),
        )


class HostApp(faust.App):
    """A Faust app hosting SQL applications and deliveries (see the module docstring)."""

    BootStrategy = _HostBoot

    def __init__(
        self,
        id: str,
        settings: Settings,
        *,
        web_port: int | None = None,
        web_host: str = DEFAULT_WEB_HOST,
        **options: Any,
    ) -> None:
        web: dict[str, Any] = {"web_enabled": web_port is not None, "web_bind": web_host,
                               "web_host": web_host}
        if web_port is not None:
            web["web_port"] = web_port
        defaults: dict[str, Any] = {
            "broker": [f"kafka://{b}" for b in settings.kafka_bootstrap.split(",")],
            "store": "memory://",
            "autodiscover": False,
            "datadir": settings.faust_datadir(id),
            "web_router_enabled": False,
            "web_tables_enabled": False,
            "Worker": HostWorker,
            **web,
        }
        super().__init__(id, **{**defaults, **options})
        self.settings = settings
        self.services: list[LoopService] = []
        self._document_topics: dict[str, int] = {}
        self.registry = CollectorRegistry()
        self.registry.register(HostCollector(lambda: self.services))
        self._delivery_metrics: PrometheusMetrics | None = None

    # -- what it hosts ---------------------------------------------------------------------
    def add_service(self, service: S) -> S:
        """Host ``service``: it starts with the worker, after the web server."""
        if self.started:
            raise ConfigError("services", "add services before the worker starts")
        if any(s.name == service.name and s.kind == service.kind for s in self.services):
            raise ConfigError("services", f"two {service.kind} services named {service.name!r}")
        service.on_finished = self._on_finished
        self.services.append(service)
        return service

    def add_sql_application(
        self,
        application: SqlApplication | Path | str,
        *,
        instance_id: str | None = None,
        until_idle_ms: int | None = None,
        **overrides: Any,
    ) -> SqlService:
        """Host a KDA SQL application (a loaded one, or its folder: ``overrides`` as for
        :func:`~pipelines.sql.application.load_sql_application`)."""
        # Imported here, not with the module: it loads the SQL engine (``shardline.host.sql``),
        # which hosts of deliveries alone do not need.
        from pipelines.sql.application import load_sql_application
        from shardline.host.sql import SqlService

        if isinstance(application, Path | str):
            application = load_sql_application(application, self.settings, **overrides)
            application.preflight()
        return self.add_service(SqlService.for_application(
            application, instance_id=instance_id, until_idle_ms=until_idle_ms
        ))

    @property
    def delivery_metrics(self) -> PrometheusMetrics:
        """Firehose's delivery metrics in this host's registry (served at ``/metrics``):
        the ``metrics`` hook for ``connectors.build_worker``."""
        if self._delivery_metrics is None:
            self._delivery_metrics = PrometheusMetrics(registry=self.registry)
        return self._delivery_metrics

    def add_delivery(
        self, worker: DeliveryWorker, *, until_idle_ms: int | None = None
    ) -> DeliveryService:
        """Host a delivery worker (``connectors.build_worker``)."""
        return self.add_service(DeliveryService(worker, until_idle_ms=until_idle_ms))

    # -- topics for user agents ------------------------------------------------------------
    def sql_output(
        self, sql: SqlService, stream: str, *, value_type: Any = None, **kwargs: Any
    ) -> faust.TopicT:
        """The topic of output ``stream`` of a hosted SQL application, for an agent.

        Values are the rows as the application writes them: JSON objects (decoded to dicts,
        or to ``value_type``, e.g. a ``faust.Record`` with the stream's column names) or, for
        a CSV output, raw bytes. Keys are raw bytes. Read ``read_committed``: only results of
        committed transactions arrive."""
        if stream not in sql.outputs:
            raise ConfigError("stream", f"{sql.name} has no output {stream!r} "
                              f"(outputs: {', '.join(sorted(sql.outputs))})")
        output = sql.outputs[stream]
        serializer = "json" if output.record_format == "JSON" else "raw"
        kwargs.setdefault("key_serializer", "raw")
        kwargs.setdefault("value_serializer", serializer)
        return self.topic(output.topic, value_type=value_type, **kwargs)

    def document_topic(self, name: str, *, partitions: int = 1, **kwargs: Any) -> DocumentTopic:
        """A topic an agent writes documents to for a delivery: values are plain JSON,
        never with Faust's ``__faust`` metadata (:mod:`.documents`). It is created (with
        ``partitions``) if missing when the worker starts, before the deliveries."""
        kwargs.setdefault("key_serializer", "raw")
        topic = DocumentTopic(self, topics=[name], partitions=partitions, **kwargs)
        self._document_topics[name] = partitions
        return topic

    # -- Faust hooks -----------------------------------------------------------------------
    def uses_kafka(self) -> bool:
        """Faust's own Kafka clients are needed for user agents and tables only."""
        return len(self.agents) > 0 or len(self.tables) > 0

    def check_groups(self) -> None:
        for service in self.services:
            if service.group_id == self.conf.id:
                raise ConfigError(
                    "id", f"the Faust app id {self.conf.id!r} is its agents' consumer group; it"
                    f" must differ from the group of {service.kind} {service.name!r}")

    async def on_first_start(self) -> None:
        await super().on_first_start()
        if self._document_topics:
            await asyncio.to_thread(self._create_document_topics)

    def _create_document_topics(self) -> None:
        for name, partitions in self._document_topics.items():
            ensure_topics(self.settings.kafka, [name], partitions)

    def _new_transport(self) -> TransportT:
        return ReadCommittedTransport(self.conf.broker_consumer, self)

    def _new_web(self) -> Web:
        return HostWeb(self)

    def on_webserver_init(self, web: Web) -> None:
        for view in VIEWS:
            web.add_view(view)

    # -- health and stopping ---------------------------------------------------------------
    def health(self) -> tuple[bool, bool, dict[str, Any]]:
        """(live, ready, body) for ``/health``."""
        states = [s.loop_state for s in self.services]
        failed = ServiceState.FAILED in states
        ready = bool(states) and all(s is ServiceState.RUNNING for s in states)
        if failed:
            status = "failed"
        elif ready:
            status = "ready"
        elif any(s in (ServiceState.STOPPING, ServiceState.STOPPED) for s in states):
            status = "stopping"
        else:
            status = "starting"
        body = {"status": status, "app": self.conf.id,
                "services": [s.health() for s in self.services]}
        return not failed, ready, body

    def failures(self) -> list[BaseException]:
        return [s.error for s in self.services if s.error is not None]

    def _on_finished(self, service: LoopService) -> None:
        if service.error is None and not all(s.finished for s in self.services):
            return  # the others go on (e.g. deliveries that are not idle yet)
        self.stop_host(service.error)

    def stop_host(self, failure: BaseException | None = None) -> None:
        """Stop the worker this app runs in (or the app itself, when started alone)."""
        root = self.beacon.root.data if self.beacon.root is not None else self
        if isinstance(root, HostWorker):
            root.request_shutdown(failure)
        else:
            asyncio.ensure_future(cast(faust.App, root).stop())
