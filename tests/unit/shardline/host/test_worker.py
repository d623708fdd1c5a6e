"""Signals on a host process: the first stops it gracefully, a second SIGINT exits at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shardline.host import ABORT_EXIT_CODE

ROOT = Path(__file__).resolve().parents[4]


def start(mode: str, home: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.unit.shardline.host.hosted", mode], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SHARDLINE_HOME": str(home)},
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "running":
            return proc
    proc.wait(10)
    raise AssertionError(f"the host did not come up (exit {proc.returncode})")


def finish(proc: subprocess.Popen[str], timeout_s: float = 30) -> tuple[int, list[str]]:
    out, _ = proc.communicate(timeout=timeout_s)
    return proc.returncode, out.splitlines()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_host_after_its_loops_finished(
    tmp_path: Path, signum: signal.Signals
) -> None:
    proc = start("graceful", tmp_path)
    os.kill(proc.pid, signum)
    code, lines = finish(proc)
    assert code == 0, lines
    assert f"signal {signum.name}" in lines and "result loop done" in lines


def test_a_second_sigint_exits_at_once(tmp_path: Path) -> None:
    proc = start("stuck", tmp_path)  # its loop ignores stop requests (60 s shutdown timeout)
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(0.5)
    stopped = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    code, lines = finish(proc)
    assert code == ABORT_EXIT_CODE == 130, lines
    assert time.monotonic() - stopped < 10
    assert lines.count("signal SIGINT") == 1
    assert not any(line.startswith("result") for line in lines)
