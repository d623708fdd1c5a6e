"""``shardline run`` starts its own process again after a stuck Kafka client, once a minute
at most."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from ground.errors import StuckClientError
from shardline.cli import run as run_cli


class Exec(Exception):
    """Raised by the replaced ``os.execv``: what it was asked to start."""


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    calls: list[tuple[str, list[str]]] = []

    def fake_execv(path: str, argv: list[str]) -> Any:
        calls.append((path, list(argv)))
        raise Exec

    monkeypatch.setattr(run_cli.os, "execv", fake_execv)
    monkeypatch.delenv(run_cli.RESTARTED_AT_ENV, raising=False)
    return calls


def test_a_stuck_client_starts_the_same_command_line_again(
    execs: list[tuple[str, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    stuck = StuckClientError("send_offsets_to_transaction did not return within 40s")
    with pytest.raises(Exec):
        run_cli.start_again(stuck, now_ms=1_000_000)
    ((path, argv),) = execs
    assert path == sys.executable and argv == [sys.executable, *sys.orig_argv[1:]]
    assert run_cli.os.environ[run_cli.RESTARTED_AT_ENV] == "1000000"
    assert "starting the worker's process again" in capsys.readouterr().err


def test_a_second_stuck_client_within_the_interval_stops_the_worker(
    execs: list[tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(run_cli.RESTARTED_AT_ENV, "1000000")
    stuck = StuckClientError("commit_transaction did not return within 40s")
    soon = 1_000_000 + run_cli.RESTART_MIN_INTERVAL_MS - 1
    with pytest.raises(StuckClientError):
        run_cli.start_again(stuck, now_ms=soon)
    assert execs == []
    with pytest.raises(Exec):  # a minute later it starts again
        run_cli.start_again(stuck, now_ms=soon + 1)
    assert len(execs) == 1
