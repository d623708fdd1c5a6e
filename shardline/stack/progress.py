"""Progress of long steps (Maven resolution, the MinIO build, unzip, waiting for health).

:class:`Reporter` is the seam: the library logs steps, the CLI shows them on a console.
On a terminal a live spinner with elapsed time runs while a step is under way; everywhere
(CI logs included) one line is printed when a step starts and one when it ends, with its
duration. Steps may run in parallel threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["ConsoleReporter", "LogReporter", "Reporter"]

log = logging.getLogger(__name__)


class Reporter(Protocol):
    def step(self, component: str, title: str) -> AbstractContextManager[None]:
        """Context manager around one long step of ``component``."""
        ...

    def note(self, component: str, message: str) -> None:
        """A one-off line (e.g. "already running")."""
        ...


class LogReporter:
    """Steps as log records of ``shardline.stack.progress`` (the library default)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock

    @contextmanager
    def step(self, component: str, title: str) -> Iterator[None]:
        start = self._clock()
        log.info("%s: %s ...", component, title)
        try:
            yield
        except BaseException:
            log.info("%s: %s failed after %.1fs", component, title, self._clock() - start)
            raise
        log.info("%s: %s done in %.1fs", component, title, self._clock() - start)

    def note(self, component: str, message: str) -> None:
        log.info("%s: %s", component, message)


class ConsoleReporter:
    """Start/end lines on ``console``; plus a live spinner per step when it is a terminal."""

    def __init__(
        self, console: Console | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.console = console or Console(stderr=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._active = 0
        self._progress: Progress | None = None

    @contextmanager
    def step(self, component: str, title: str) -> Iterator[None]:
        start = self._clock()
        label = f"[bold]{component}[/]: {title}"
        task = self._begin(label)
        try:
            yield
        except BaseException:
            self._end(task, f"[red]✗[/] {label} failed after {self._clock() - start:.1f}s")
            raise
        self._end(task, f"[green]✓[/] {label} ({self._clock() - start:.1f}s)")

    def note(self, component: str, message: str) -> None:
        self._print(f"[green]✓[/] [bold]{component}[/]: {message}")

    def _begin(self, label: str) -> TaskID | None:
        with self._lock:
            if not self.console.is_terminal:
                self.console.print(f"→ {label} ...", highlight=False)
                return None
            if self._progress is None:
                self._progress = Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    TimeElapsedColumn(),
                    console=self.console,
                    transient=True,
                )
                self._progress.start()
            self._active += 1
            return self._progress.add_task(label, total=None)

    def _end(self, task: TaskID | None, line: str) -> None:
        with self._lock:
            if task is not None and self._progress is not None:
                self._progress.remove_task(task)
                self._active -= 1
            self._print_locked(line)
            if self._progress is not None and self._active == 0:
                self._progress.stop()
                self._progress = None

    def _print(self, line: str) -> None:
        with self._lock:
            self._print_locked(line)

    def _print_locked(self, line: str) -> None:
        target = self._progress.console if self._progress is not None else self.console
        target.print(line, highlight=False)
