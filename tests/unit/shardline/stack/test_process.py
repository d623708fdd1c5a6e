from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ground.errors import StackError
from shardline.stack.process import (
    Launch,
    PidFile,
    PidRecord,
    is_alive,
    process_start_ticks,
    run_checked,
    spawn,
    stop,
    tail,
)

SLEEPER = (sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)")
STUBBORN = (
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)",
)


@pytest.fixture
def started(tmp_path: Path):
    procs: list[subprocess.Popen[bytes]] = []

    def start(argv: tuple[str, ...] = SLEEPER) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / "server.log"
        proc = spawn(Launch(argv=argv, env={"EXTRA": "1"}, cwd=tmp_path), log, {})
        procs.append(proc)
        return proc, log

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def wait_for_line(log: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def test_pidfile_roundtrip_and_live(tmp_path: Path, started) -> None:
    proc, _ = started()
    pidfile = PidFile(tmp_path / "run" / "x.pid")
    assert pidfile.read() is None
    record = pidfile.write(proc.pid, "python")
    assert record.start_ticks == process_start_ticks(proc.pid) is not None
    assert json.loads(pidfile.path.read_text())["pid"] == proc.pid
    assert pidfile.read() == record
    assert pidfile.live() == record


def test_stale_pidfile_is_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pidfile = PidFile(tmp_path / "x.pid")
    pidfile.write(dead.pid, "python")
    assert pidfile.live() is None
    assert not pidfile.path.exists()


def test_reused_pid_is_not_ours(started) -> None:
    proc, _ = started()
    ticks = process_start_ticks(proc.pid)
    assert ticks is not None
    assert is_alive(PidRecord(proc.pid, ticks, "", "python"))
    assert not is_alive(PidRecord(proc.pid, ticks - 1, "", "python"))


def test_unreadable_pidfile_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "x.pid"
    path.write_text("not json")
    assert PidFile(path).read() is None


def test_spawn_new_session_log_and_env(started) -> None:
    import os

    proc, log = started((sys.executable, "-c", "import os; print('EXTRA=' + os.environ['EXTRA'])"))
    proc.wait(timeout=10)
    text = log.read_text()
    assert "=== shardline: starting" in text
    assert "EXTRA=1" in text
    proc2, log2 = started()
    assert os.getpgid(proc2.pid) == proc2.pid != os.getpgid(0)


def test_stop_terminates_gracefully(tmp_path: Path, started) -> None:
    proc, log = started()
    wait_for_line(log, "up")
    record = PidFile(tmp_path / "x.pid").write(proc.pid, "python")
    assert stop(record, timeout_s=10) is True
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert stop(record, timeout_s=1) is False  # already gone: nothing to do


def test_stop_escalates_to_sigkill(tmp_path: Path, started) -> None:
    proc, log = started(STUBBORN)
    wait_for_line(log, "ready")
    record = PidFile(tmp_path / "x.pid").write(proc.pid, "python")
    assert stop(record, timeout_s=0.5) is True
    assert proc.wait(timeout=5) == -signal.SIGKILL


def test_stop_leaves_a_reused_pid_alone(started) -> None:
    proc, log = started()
    wait_for_line(log, "up")
    ticks = process_start_ticks(proc.pid)
    assert ticks is not None
    assert stop(PidRecord(proc.pid, ticks + 1, "", "python"), timeout_s=0.5) is False
    assert proc.poll() is None


def test_tail(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert tail(path, 3) == ["line 997", "line 998", "line 999"]
    assert tail(tmp_path / "missing.log", 3) == []


def test_run_checked_failure_names_log(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"could not do it \(exit 3\): boom .*cmd\.log"):
        run_checked(
            [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
            log_path=tmp_path / "cmd.log",
            env={},
            what="do it",
        )
