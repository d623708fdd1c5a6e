"""``/health`` and ``/metrics`` on Faust's web server (aiohttp).

* ``GET /health`` — readiness: 200 while every hosted service runs, else 503, with a JSON
  body ``{"status": "ready" | "starting" | "stopping" | "failed", "services": [...]}``
  (each service: name, kind, state, its error if it failed, and what it knows of itself —
  the SQL runtime's instance and counters, the delivery's topic and destination).
* ``GET /health/live`` — liveness: 200 while the worker answers and no service failed.
* ``GET /metrics`` — the host's Prometheus registry in the text exposition format.

The server runs on the worker's event loop, which the data paths never block (they run on
threads of their own), so a scrape is answered while a delivery waits in ``consume``.
:class:`HostWeb` is Faust's aiohttp driver with one change: a port it cannot bind is a
:class:`~ground.errors.ConfigError` naming the setting, not a bare ``OSError``.
"""

from __future__ import annotations

import socket
from typing import Any, Protocol, cast

from faust.web import Request, Response, View
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ground.errors import ConfigError

__all__ = [
    "DEFAULT_WEB_HOST",
    "VIEWS",
    "HealthView",
    "HostWeb",
    "LiveView",
    "MetricsView",
    "check_port",
]

#: The web server binds the loopback interface unless told otherwise.
DEFAULT_WEB_HOST = "127.0.0.1"


class WebHost(Protocol):
    """What the views read from the app (:class:`~shardline.host.app.HostApp`)."""

    registry: CollectorRegistry

    def health(self) -> tuple[bool, bool, dict[str, Any]]:
        """(live, ready, body)"""
        ...


def _host(view: View) -> WebHost:
    return cast(WebHost, view.app)


class HealthView(View):
    view_name = "shardline-health"
    view_path = "/health"

    async def get(self, request: Request) -> Response:
        _live, ready, body = _host(self).health()
        return cast(Response, self.json(body, status=200 if ready else 503))


class LiveView(View):
    view_name = "shardline-live"
    view_path = "/health/live"

    async def get(self, request: Request) -> Response:
        live, _ready, body = _host(self).health()
        return cast(Response, self.json({"status": body["status"], "live": live},
                                        status=200 if live else 503))


class MetricsView(View):
    view_name = "shardline-metrics"
    view_path = "/metrics"

    async def get(self, request: Request) -> Response:
        text = generate_latest(_host(self).registry)
        return self.bytes(text, headers={"Content-Type": CONTENT_TYPE_LATEST})


VIEWS: tuple[type[View], ...] = (HealthView, LiveView, MetricsView)


def check_port(host: str, port: int, setting: str) -> None:
    """Fail at start-up with one line if ``host:port`` cannot be bound (taken, or not an
    address of this machine), before any service starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise ConfigError(setting, f"cannot serve on {host}:{port}: {exc}") from None


class HostWeb(AiohttpWeb):
    """Faust's aiohttp web driver serving the host's views; bind errors name the setting."""

    async def start_server(self) -> None:
        try:
            await super().start_server()
        except OSError as exc:
            conf = self.app.conf
            raise ConfigError(
                "web_port", f"cannot serve on {conf.web_bind}:{conf.web_port}: {exc}"
            ) from None
