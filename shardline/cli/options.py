"""Options shared by the commands that run a host (``run``, ``deliver``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ground.errors import ConfigError
from shardline.host import DEFAULT_WEB_HOST

__all__ = ["parse_web_port", "web_options"]

F = TypeVar("F", bound=Callable[..., Any])


def web_options(command: F) -> F:
    """``--web-port``/``--web-host``, also spelled ``--metrics-port``/``--metrics-host``."""
    command = click.option(
        "--web-host", "--metrics-host", "web_host", default=DEFAULT_WEB_HOST,
        show_default=True, help="Address the web server binds to.",
    )(command)  # fmt: skip
    return click.option(
        "--web-port", "--metrics-port", "web_port", type=int, default=0, show_default=True,
        help="Serve /health and /metrics (Prometheus) at http://HOST:PORT (0: no web server).",
    )(command)  # fmt: skip


def parse_web_port(value: int, flag: str) -> int | None:
    """The port to serve on, or None for no web server."""
    if not 0 <= value <= 65535:
        raise ConfigError(flag, "give a TCP port, or 0 for no web server")
    return value or None
