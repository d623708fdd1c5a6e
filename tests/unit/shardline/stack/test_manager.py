"""The manager's up/down/status logic, run on tiny fake servers (a Python TCP listener)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ground.errors import ConfigError, PortInUseError, StackError, ToolMissingError
from ground.settings import Settings
from shardline.stack import ComponentState, Stack
from shardline.stack.component import Component, Health
from shardline.stack.preflight import PortClaim
from shardline.stack.process import Launch
from shardline.stack.progress import Reporter

SERVER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("listening", flush=True)
while True:
    c, _ = s.accept(); c.close()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeServer(Component):
    health_timeout_s = 10.0

    def __init__(self, name: str, settings: Settings, *, crash: bool = False) -> None:
        super().__init__(settings, {})
        self.name = name  # type: ignore[misc]
        self.port = free_port()
        self.crash = crash
        self.provisioned = 0
        self.readied = 0
        self.missing_tool = False

    @property
    def description(self) -> str:
        return f"Fake {self.name}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ports(self) -> list[PortClaim]:
        return [PortClaim(self.name, "127.0.0.1", self.port, f"FAKE_{self.name.upper()}_PORT")]

    def preflight(self) -> None:
        if self.missing_tool:
            raise ToolMissingError("`fake` not found on PATH: install it")

    def provision(self, reporter: Reporter) -> None:
        self.provisioned += 1
        self.dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        code = "import sys; print('boom', flush=True); sys.exit(1)" if self.crash else SERVER
        return Launch(argv=(sys.executable, "-c", code, str(self.port)), env={}, cwd=self.dir)

    def ready(self) -> None:
        assert self.probe().ok, "ready() before the server is healthy"
        self.readied += 1

    def probe(self, timeout_s: float = 2.0) -> Health:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=timeout_s).close()
        except OSError:
            return Health(False, "refused")
        return Health(True, "accepting")


@pytest.fixture
def fakes(settings: Settings) -> Iterator[tuple[Stack, FakeServer, FakeServer]]:
    a, b = FakeServer("alpha", settings), FakeServer("beta", settings)
    stack = Stack(settings, env={}, components=[a, b])
    yield stack, a, b
    stack.down()


def test_up_status_down_cycle(fakes: tuple[Stack, FakeServer, FakeServer]) -> None:
    stack, a, b = fakes
    assert [s.state for s in stack.status()] == [ComponentState.STOPPED] * 2
    assert stack.up() == ("alpha", "beta")
    statuses = stack.status()
    assert [s.state for s in statuses] == [ComponentState.RUNNING] * 2
    assert all(s.pid and s.healthy for s in statuses)
    assert statuses[0].ports == {"FAKE_ALPHA_PORT": a.port}
    assert "=== shardline: starting" in a.log_path.read_text()

    pids = [s.pid for s in statuses]
    assert stack.up() == ()  # idempotent: nothing started, nothing re-provisioned
    assert [s.pid for s in stack.status()] == pids
    assert (a.provisioned, b.provisioned) == (1, 1)
    assert (a.readied, b.readied) == (2, 2)  # after each up, started then or before

    assert stack.down(["beta"]) == ("beta",)
    assert [s.state for s in stack.status()] == [ComponentState.RUNNING, ComponentState.STOPPED]
    assert stack.down() == ("alpha",)
    assert stack.down() == ()
    assert not (stack.settings.home / "run" / "alpha.pid").exists()


def test_port_in_use_fails_before_anything_starts(fakes) -> None:
    stack, a, b = fakes
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", b.port))
        sock.listen()
        with pytest.raises(PortInUseError, match=f"port {b.port}.*FAKE_BETA_PORT") as info:
            stack.up()
        assert "already answers" in str(info.value)  # something healthy is there: say so
    assert (a.provisioned, b.provisioned) == (0, 0)
    assert stack.status()[0].state is ComponentState.STOPPED


def test_missing_tool_fails_before_anything_starts(fakes) -> None:
    stack, a, b = fakes
    b.missing_tool = True
    with pytest.raises(ToolMissingError):
        stack.up()
    assert a.provisioned == 0


def test_running_component_is_not_port_checked(fakes) -> None:
    stack, a, _ = fakes
    stack.up(["alpha"])
    assert stack.up(["alpha"]) == ()  # its own port is taken by itself: fine


def test_crash_during_start_is_reported_with_log(settings: Settings) -> None:
    bad = FakeServer("bad", settings, crash=True)
    stack = Stack(settings, env={}, components=[bad])
    with pytest.raises(StackError, match=r"bad exited during start-up: .*boom"):
        stack.up()
    assert not (settings.home / "run" / "bad.pid").exists()


def test_external_server_shows_as_external(fakes) -> None:
    stack, a, _ = fakes
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", a.port))
        sock.listen()
        assert stack.status(["alpha"])[0].state is ComponentState.EXTERNAL
        assert stack.down(["alpha"]) == ()  # not ours: never touched


def test_unknown_component(fakes) -> None:
    stack, _, _ = fakes
    with pytest.raises(ConfigError, match="unknown 'gamma'"):
        stack.up(["gamma"])


def test_default_components_and_aliases(settings: Settings) -> None:
    stack = Stack(settings, env={})
    assert list(stack.components) == ["kafka", "minio", "search", "registry"]
    assert [c.name for c in stack.select(["elasticsearch", "s3"])] == ["minio", "search"]
    assert [c.name for c in stack.select(["apicurio"])] == ["registry"]
    assert stack.log_path("kafka") == settings.home / "kafka" / "kafka.log"


def test_real_components_report_missing_java(settings: Settings, tmp_path: Path) -> None:
    stack = Stack(settings, env={"PATH": str(tmp_path)})
    with pytest.raises(ToolMissingError, match="java"):
        stack.up(["kafka"])
    with pytest.raises(ToolMissingError, match="`go` not found"):
        stack.up(["minio"])
