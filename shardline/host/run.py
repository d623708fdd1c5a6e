"""Run a host in this process until it is done, stopped by a signal, or failed."""

from __future__ import annotations

import signal
from collections.abc import Callable

from ground.errors import RuntimeFailure, ShardlineError
from shardline.host.app import HostApp
from shardline.host.web import check_port
from shardline.host.worker import HostWorker

__all__ = ["run_host"]


def run_host(
    app: HostApp,
    *,
    loglevel: str | None = None,
    on_signal: Callable[[signal.Signals], None] | None = None,
    web_setting: str = "--web-port",
) -> None:
    """Run ``app``'s worker until every hosted loop returned, SIGTERM/SIGINT stopped it, or a
    loop failed; then raise the first failure (a :class:`~ground.errors.ShardlineError`).

    ``loglevel`` hands logging to Faust's worker (its format, on stdout); ``None`` leaves
    the process' logging as it is. ``web_setting`` names the flag in a bind error."""
    if not app.services:
        raise ShardlineError("nothing to run: the host has no services")
    if app.conf.web_enabled:
        check_port(app.conf.web_bind, app.conf.web_port, web_setting)
    worker = HostWorker(
        app, loglevel=loglevel, override_logging=loglevel is not None,
        redirect_stdouts=False, on_signal=on_signal, report_failures=False,
    )  # fmt: skip
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        failures = app.failures()
        crash = worker.crash_reason or app.crash_reason
        if not failures and crash is not None:
            failures = [crash]
        if failures:
            first = failures[0]
            if isinstance(first, ShardlineError):
                raise first from None
            raise ShardlineError(f"{type(first).__name__}: {first}") from first
        if exc.code not in (0, None):
            raise RuntimeFailure(f"the worker exited with {exc.code}") from exc
