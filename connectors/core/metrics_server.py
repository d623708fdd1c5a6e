"""``GET /metrics``: a registry in Prometheus' text exposition format, served by aiohttp.

The server runs on an event loop of its own, in a daemon thread (:meth:`start_in_thread`):
the delivery worker's loop only runs while a flush is in flight (between flushes the worker
blocks in ``consume``), so a site on it would not answer a scrape while the worker waits for
records. ``start``/``stop`` are also usable on any running loop (tests do).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["DEFAULT_METRICS_HOST", "MetricsServer"]

log = logging.getLogger(__name__)

DEFAULT_METRICS_HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0


class MetricsServer:
    """Serves ``registry`` at ``http://host:port/metrics``; ``port=0`` picks a free port."""

    def __init__(
        self, registry: CollectorRegistry, *, host: str = DEFAULT_METRICS_HOST, port: int = 0
    ) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    async def start(self) -> int:
        """Bind and serve on the running loop; returns the bound port."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        server = site._server
        if self.port == 0 and server is not None:
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]
        self._runner = runner
        log.info("serving metrics at %s", self.url)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- in a thread of its own ----------------------------------------------------------

    def start_in_thread(self) -> int:
        """Start a loop in a daemon thread and serve on it; returns once bound (or raises)."""
        started = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="metrics-server", daemon=True)
        self._thread.start()
        if not started.wait(START_TIMEOUT_S):
            raise TimeoutError(f"metrics server on {self.host}:{self.port} did not start")
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        return self.port

    def stop_thread(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_S)
        self._thread = self._loop = None
