"""Faust as the process host: a ``faust.Service`` that runs the loop in a thread.

The data path never touches Faust's consumer: :class:`StreamService` starts
:func:`~pipelines.runtime.loop.run` in a plain thread when the service starts, and sets its
stop event when the service stops (worker shutdown, SIGTERM, SIGINT), then waits — bounded —
for the loop to commit and leave the group. If the loop ends on its own (a fatal error),
the service crashes and stops its worker, which then exits non-zero.

:func:`run_worker` is ``shardline run``'s entry: a ``faust.Worker`` whose app starts no
Kafka clients of its own, hosting one :class:`StreamService`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import faust
from faust.app.base import BootStrategy

from ground.clock import Clock, wall_ms
from ground.errors import RuntimeFailure
from ground.settings import Settings
from pipelines.runtime.config import RuntimeConfig
from pipelines.runtime.loop import RunStats, StreamRuntime
from pipelines.runtime.records import ProcessorFactory

__all__ = ["StreamService", "run_worker"]

log = logging.getLogger(__name__)


class StreamService(faust.Service):
    """Runs one exactly-once worker loop for the life of the service."""

    def __init__(
        self,
        config: RuntimeConfig,
        settings: Settings,
        factory: ProcessorFactory,
        *,
        clock: Clock = wall_ms,
        on_finished: Callable[[], Any] | None = None,
        until_idle_ms: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.runtime_config = config
        self.stop_event = threading.Event()
        self.runtime = StreamRuntime(
            config, settings, factory, stop=self.stop_event, clock=clock,
            until_idle_ms=until_idle_ms,
        )  # fmt: skip
        self.on_finished = on_finished
        self.error: BaseException | None = None
        self.run_stats: RunStats | None = None
        self._thread: threading.Thread | None = None
        self._done: asyncio.Event | None = None
        self._stop_requested = False
        # Commit + close take at most a few operation timeouts; never hang the shutdown.
        self.shutdown_timeout_s = 3 * config.operation_timeout_ms / 1000 + 5

    async def on_start(self) -> None:
        loop = asyncio.get_running_loop()
        done = self._done = asyncio.Event()

        def target() -> None:
            try:
                self.run_stats = self.runtime.run()
            except BaseException as exc:
                self.error = exc
            finally:
                loop.call_soon_threadsafe(done.set)

        self._thread = threading.Thread(
            target=target,
            name=f"shardline-runtime-{self.runtime_config.application_id}",
            daemon=True,
        )
        self._thread.start()

    @faust.Service.task
    async def _supervise(self) -> None:
        assert self._done is not None
        await self._done.wait()
        if self._stop_requested:
            return  # on_stop is handling it
        if self.error is not None:
            log.error("stream runtime failed: %s", self.error)
        if self.on_finished is not None:
            result = self.on_finished()
            if asyncio.iscoroutine(result):
                await result

    async def on_stop(self) -> None:
        self._stop_requested = True
        self.stop_event.set()
        if self._done is None:
            return
        try:
            await asyncio.wait_for(self._done.wait(), self.shutdown_timeout_s)
        except TimeoutError:
            log.error("stream runtime did not stop within %.0fs", self.shutdown_timeout_s)


class _NoKafkaBoot(BootStrategy):
    """The host app starts no Kafka clients, web server or sensors of its own."""

    enable_kafka = False
    enable_web = False
    enable_sensors = False


class _HostApp(faust.App):
    BootStrategy = _NoKafkaBoot


def run_worker(
    config: RuntimeConfig,
    settings: Settings,
    factory: ProcessorFactory,
    *,
    loglevel: str = "warn",
    clock: Clock = wall_ms,
    until_idle_ms: int | None = None,
) -> RunStats:
    """Run one worker in this process under a Faust worker until SIGTERM/SIGINT; return its
    stats, or raise the :class:`~ground.errors.RuntimeFailure` that stopped it."""
    app = _HostApp(
        config.application_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        autodiscover=False,
        web_enabled=False,
        store="memory://",
        datadir=settings.faust_datadir(config.application_id),
    )
    worker: faust.Worker

    def finished() -> None:
        asyncio.ensure_future(worker.stop())

    service = StreamService(
        config, settings, factory, clock=clock, on_finished=finished, until_idle_ms=until_idle_ms
    )
    worker = faust.Worker(app, service, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None) and service.error is None:
            raise RuntimeFailure(f"worker exited with {exc.code}") from exc
    if service.error is not None:
        raise service.error
    if service.run_stats is None:
        raise RuntimeFailure("the stream runtime did not finish")
    return service.run_stats
