"""A stand-in for Shardline's loops: a :class:`LoopService` that needs no Kafka."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ground.settings import Settings
from pipelines.runtime import RuntimeConfig
from shardline.host import LoopService
from shardline.host.sql import SqlOutput, SqlService

__all__ = ["FakeLoop", "free_port", "fresh_loop", "get", "settings", "sql_service"]


class FakeLoop(LoopService):
    """Comes up after ``up_after_s``, calls ``probe`` (on its thread), then raises ``fail``,
    returns after ``run_s``, or waits for a stop request (``ignore_stop``: never returns)."""

    kind: ClassVar[str] = "fake"

    def __init__(
        self,
        name: str,
        *,
        run_s: float | None = None,
        fail: BaseException | None = None,
        up_after_s: float = 0.0,
        ignore_stop: bool = False,
        probe: Callable[[FakeLoop], Any] | None = None,
        shutdown_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(name, shutdown_timeout_s=shutdown_timeout_s)
        self.run_s = run_s
        self.fail = fail
        self.up_after_s = up_after_s
        self.ignore_stop = ignore_stop
        self.probe = probe
        self.probed: Any = None
        self.stop_requests = 0
        self.stop_event = threading.Event()
        self.up = threading.Event()

    def run_loop(self) -> str:
        time.sleep(self.up_after_s)
        self.up.set()
        if self.probe is not None:
            self.probed = self.probe(self)
        if self.fail is not None:
            raise self.fail
        if self.ignore_stop:
            threading.Event().wait()
        self.stop_event.wait(self.run_s)
        return f"{self.name} done"

    def request_stop(self) -> None:
        self.stop_requests += 1
        if not self.ignore_stop:
            self.stop_event.set()

    def is_running(self) -> bool:
        return self.up.is_set()

    def describe(self) -> dict[str, Any]:
        return {"stop_requests": self.stop_requests}


@pytest.fixture
def fresh_loop() -> Any:
    """A new current event loop: a host's worker closes the loop it ran on."""
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    if not loop.is_closed():
        loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"SHARDLINE_HOME": str(tmp_path)})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET; 4xx/5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def sql_service(settings: Settings, name: str = "app") -> SqlService:
    """A runtime service never started: the runtime opens no client before ``run``."""
    return SqlService(
        RuntimeConfig(name, ("in",), output_topics=("out", "errors")), settings,
        lambda _t, _p: None,  # type: ignore[arg-type,return-value]
        outputs={"DESTINATION_SQL_STREAM": SqlOutput("out", "JSON"),
                 "CSV_STREAM": SqlOutput("out-csv", "CSV")},
    )  # fmt: skip
