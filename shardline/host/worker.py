"""The Faust worker that runs a host: signals, and stopping when the host is done.

:class:`HostWorker` is ``faust.Worker`` with three changes, used by ``shardline run``,
``shardline deliver`` and ``faust -A <module> worker`` alike (``HostApp`` names it in its
``Worker`` setting):

* the first SIGINT or SIGTERM is announced (``on_signal``) and stops the worker gracefully —
  every service finishes its work and commits; a second SIGINT exits at once (code 130):
  nothing uncommitted is lost, it is re-read by the next worker;
* :meth:`HostWorker.request_shutdown` stops the worker from the inside (the hosted loops are
  done, or one failed) and, like a signal, lets the stop run to its end before the event
  loop is closed (``mode`` cancels every task still pending a second after ``start`` returns);
  after a failure the process exits with 1 (``report_failures`` also logs it: off under
  ``shardline``, whose command prints the error itself);
* no banner and no spinner unless asked.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any, NoReturn

import faust

__all__ = ["ABORT_EXIT_CODE", "FAILURE_EXIT_CODE", "HostWorker"]

#: Exit code after a second SIGINT (128 + SIGINT, the shell's convention).
ABORT_EXIT_CODE = 128 + signal.SIGINT
#: Exit code when a hosted loop failed (as ``mode`` exits after a crash).
FAILURE_EXIT_CODE = 1


class HostWorker(faust.Worker):
    def __init__(
        self,
        app: faust.App,
        *services: Any,
        on_signal: Callable[[signal.Signals], None] | None = None,
        report_failures: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("quiet", True)
        super().__init__(app, *services, **kwargs)
        if self.quiet:
            self.spinner = None  # its cursor escapes would land in logs and pipes
        self.on_signal = on_signal
        self.report_failures = report_failures
        self.signalled: signal.Signals | None = None
        self.failure: BaseException | None = None
        self._shutdown_future: asyncio.Future[None] | None = None

    def _on_sigint(self) -> None:
        if self._first_signal(signal.SIGINT):
            super()._on_sigint()

    def _on_sigterm(self) -> None:
        if self._first_signal(signal.SIGTERM):
            super()._on_sigterm()

    def _first_signal(self, signum: signal.Signals) -> bool:
        if self.signalled is None:
            self.signalled = signum
            if self.on_signal is not None:
                self.on_signal(signum)
            return True
        if signum is signal.SIGINT:
            self.log.warning("second SIGINT: exiting now; what is not committed is re-read by"
                             " the next worker")
            self.stderr.flush()
            os._exit(ABORT_EXIT_CODE)
        return False

    def request_shutdown(self, failure: BaseException | None = None) -> None:
        """Stop the worker (called on its event loop); idempotent. With ``failure``, the
        process exits non-zero."""
        if failure is not None and self.failure is None:
            self.failure = failure
            if self.report_failures:
                self.log.error("stopping: %s: %s", type(failure).__name__, failure)
        if self._shutdown_future is None and self.signalled is None:
            self._shutdown_future = asyncio.ensure_future(self.stop(), loop=self.loop)

    def on_worker_shutdown(self) -> None:
        if self._shutdown_future is not None and not self._shutdown_future.done():
            self.loop.run_until_complete(self._shutdown_future)

    def execute_from_commandline(self) -> NoReturn:
        try:
            super().execute_from_commandline()
        except SystemExit as exc:
            if self.failure is not None and exc.code in (0, None):
                raise SystemExit(FAILURE_EXIT_CODE) from exc
            raise
