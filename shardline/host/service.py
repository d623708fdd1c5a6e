"""A blocking loop hosted as a ``mode.Service`` (Faust's service lifecycle).

Shardline's data paths — the exactly-once SQL runtime and the delivery workers — are
synchronous loops on confluent-kafka: they block in ``consume`` and keep their own event
loops (a delivery's sends) to themselves. A :class:`LoopService` runs one of them on a thread
of its own for the life of the service:

* **start** launches the thread, then waits until :meth:`LoopService.is_running` says the loop
  is up (a SQL runtime: its topics prepared and its clients open) or the loop ended, so
  whatever the worker starts next (the Kafka consumer of user agents) finds the topics there;
* **stop** (worker shutdown, SIGTERM, SIGINT) calls :meth:`LoopService.request_stop` and waits,
  bounded by ``shutdown_timeout_s``, for the loop to commit and return;
* a loop that returns on its own (``--until-idle``) or raises is reported to ``on_finished``:
  the host decides whether the worker stops (:class:`~shardline.host.app.HostApp`).

The service never touches the Kafka clients of the loop: the thread owns them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, ClassVar

import mode

__all__ = ["LoopService", "ServiceState"]

log = logging.getLogger(__name__)

#: How often a starting service looks whether its loop is up.
STARTED_POLL_S = 0.05


class ServiceState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class LoopService(mode.Service):
    """Runs :meth:`run_loop` on a thread; subclasses say how to run, stop and describe it."""

    #: What the loop is, for ``/health`` and ``/metrics`` (``sql``, ``delivery``).
    kind: ClassVar[str] = "loop"
    #: The Prometheus counters :meth:`counters` reports: ``{name without _total: help}``,
    #: each labelled ``COUNTER_LABEL`` = the service's name.
    COUNTERS: ClassVar[Mapping[str, str]] = {}
    COUNTER_LABEL: ClassVar[str] = "service"

    def __init__(self, name: str, *, shutdown_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.shutdown_timeout_s = shutdown_timeout_s
        self.loop_state = ServiceState.STARTING
        self.error: BaseException | None = None
        self.result: Any = None
        #: The Kafka consumer group the loop joins, if it joins one.
        self.group_id: str | None = None
        #: Called (on the event loop) when the loop returned or raised by itself.
        self.on_finished: Callable[[LoopService], None] | None = None
        self._thread: threading.Thread | None = None
        self._done: asyncio.Event | None = None
        self._stop_requested = False

    # -- what a subclass provides ----------------------------------------------------------
    def run_loop(self) -> Any:
        """The blocking loop (on the service's thread); its return value is :attr:`result`."""
        raise NotImplementedError

    def request_stop(self) -> None:
        """Ask the loop to finish its work and return (called from the event loop's thread)."""
        raise NotImplementedError

    def is_running(self) -> bool:
        """Whether the loop is up (read from the event loop while the thread runs)."""
        return True

    def describe(self) -> dict[str, Any]:
        """Extra fields for ``/health``."""
        return {}

    def counters(self) -> Mapping[str, int]:
        """Current values of :attr:`COUNTERS` (read at scrape time, from the event loop)."""
        return {}

    # -- state -----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.loop_state in (ServiceState.STOPPED, ServiceState.FAILED)

    @property
    def ready(self) -> bool:
        return self.loop_state is ServiceState.RUNNING

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "state": str(self.loop_state)}
        if self.error is not None:
            out["error"] = f"{type(self.error).__name__}: {self.error}"
        return {**out, **self.describe()}

    # -- lifecycle -------------------------------------------------------------------------
    async def on_start(self) -> None:
        if self._stop_requested:
            return  # the host stopped before this service came up
        loop = asyncio.get_running_loop()
        done = self._done = asyncio.Event()

        def target() -> None:
            try:
                self.result = self.run_loop()
            except BaseException as exc:
                self.error = exc
            finally:
                loop.call_soon_threadsafe(done.set)

        self._thread = threading.Thread(
            target=target, name=f"shardline-{self.kind}-{self.name}", daemon=True
        )
        self._thread.start()
        while not done.is_set() and not self.is_running():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), STARTED_POLL_S)
        if not done.is_set() and self.loop_state is ServiceState.STARTING:
            self.loop_state = ServiceState.RUNNING

    @mode.Service.task
    async def _supervise(self) -> None:
        if self._done is None:
            return
        await self._done.wait()
        self._settle()
        if self._stop_requested:
            return  # on_stop is handling it
        if self.error is not None:  # the host reports it (run_host raises it)
            log.info("%s %s failed: %r", self.kind, self.name, self.error)
        if self.on_finished is not None:
            self.on_finished(self)

    async def on_stop(self) -> None:
        self._stop_requested = True
        if self._done is None:
            self.loop_state = ServiceState.STOPPED if self.error is None else ServiceState.FAILED
            return
        if not self._done.is_set():
            self.loop_state = ServiceState.STOPPING
            self.request_stop()
            try:
                await asyncio.wait_for(self._done.wait(), self.shutdown_timeout_s)
            except TimeoutError:
                log.error("%s %s did not stop within %.0fs", self.kind, self.name,
                          self.shutdown_timeout_s)
                return
        self._settle()

    def _settle(self) -> None:
        self.loop_state = ServiceState.FAILED if self.error is not None else ServiceState.STOPPED
