"""The soak's workers: each role is one CLI process, restarted when it dies, with its RSS.

A role (``sql-1``, ``s3-1``, …) is one ``shardline run`` / ``shardline deliver`` command. The
supervisor restarts a role's process when it exits (as systemd or Kubernetes would), except
while a fault holds it down or the role is not wanted (a joiner that left); it counts the
exits nobody asked for. :meth:`Supervisor.sample` records every live worker's RSS from
``/proc/<pid>/status``.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.workers import ROOT

__all__ = ["Role", "Supervisor", "rss_mb", "vm_size_mb"]

log = logging.getLogger(__name__)


def _proc_status(pid: int, field_name: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb(pid: int) -> float | None:
    return _proc_status(pid, "VmRSS")


def vm_size_mb(pid: int) -> float | None:
    return _proc_status(pid, "VmSize")


def _no_core_dumps() -> None:
    """In the child: a worker that runs out of its memory cap must not write a core file."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@dataclass
class Role:
    name: str
    argv: Sequence[str]  # after ``python -m``
    env: dict[str, str]
    wanted: bool = True  # restarted when it dies
    held: bool = False  # a fault keeps it down (kill9 until its restart)
    proc: subprocess.Popen[bytes] | None = None
    started_s: float = 0.0
    starts: int = 0
    unexpected_exits: list[tuple[float, int, str]] = field(default_factory=list)
    expected_exit: bool = False  # a kill or stop the soak made
    capped: bool = False  # under a memory cap fault: dying of it is the fault's effect
    cap_exits: list[tuple[float, int]] = field(default_factory=list)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    def __init__(self, home: Path, logs: Path, clock_start: float) -> None:
        self.home, self.logs = home, logs
        self.t0 = clock_start
        self.roles: dict[str, Role] = {}
        self.rss: dict[tuple[str, int], list[tuple[float, float]]] = {}
        self._lock = threading.RLock()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, name: str, argv: Sequence[str], env: dict[str, str], *,
            wanted: bool = True) -> Role:
        role = Role(name, argv, env, wanted=wanted)
        self.roles[name] = role
        if wanted:
            self.spawn(role)
        return role

    def spawn(self, role: Role) -> None:
        with self._lock:
            env = dict(os.environ, SHARDLINE_HOME=str(self.home), PYTHONPATH=str(ROOT),
                       **role.env)
            out = (self.logs / f"{role.name}.log").open("ab")
            out.write(f"\n=== soak: start {role.starts + 1} at t={self.now():.1f}s ===\n".encode())
            out.flush()
            role.proc = subprocess.Popen([sys.executable, "-m", *role.argv], cwd=ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         preexec_fn=_no_core_dumps)
            out.close()
            role.started_s = self.now()
            role.starts += 1
            role.expected_exit = False

    def signal(self, name: str, sig: int) -> int | None:
        """Send ``sig`` to the role's live process (by its pid); the pid, or None."""
        with self._lock:
            role = self.roles[name]
            if not role.alive():
                return None
            assert role.proc is not None
            if sig in (signal.SIGKILL, signal.SIGTERM):
                role.expected_exit = True
            os.kill(role.proc.pid, sig)
            return role.proc.pid

    def watch(self) -> None:
        """Restart the wanted roles whose process exited (and note unasked-for exits)."""
        with self._lock:
            for role in self.roles.values():
                if role.proc is None or role.alive():
                    if role.proc is None and role.wanted and not role.held:
                        self.spawn(role)
                    continue
                code = role.proc.returncode
                if role.capped and not role.expected_exit:
                    role.cap_exits.append((round(self.now(), 1), code))
                    role.expected_exit = True
                if not role.expected_exit:
                    role.unexpected_exits.append((round(self.now(), 1), code,
                                                  self.last_error(role.name)))
                    log.warning("soak: %s exited by itself (code %s)", role.name, code)
                    role.expected_exit = True  # counted once
                if role.wanted and not role.held:
                    self.spawn(role)

    def sample(self) -> None:
        now = self.now()
        with self._lock:
            for role in self.roles.values():
                if role.alive():
                    assert role.proc is not None
                    mb = rss_mb(role.proc.pid)
                    if mb is not None:
                        self.rss.setdefault((role.name, role.proc.pid), []).append((now, mb))

    def sample_pids(self, pids: dict[str, int]) -> None:
        now = self.now()
        for name, pid in pids.items():
            mb = rss_mb(pid)
            if mb is not None:
                self.rss.setdefault((name, pid), []).append((now, mb))

    def stop_all(self, timeout_s: float = 60) -> dict[str, int | None]:
        """SIGTERM every live worker (SIGCONT first: a paused one must hear it); their codes."""
        with self._lock:
            for role in self.roles.values():
                role.wanted = False
                if role.alive():
                    assert role.proc is not None
                    role.expected_exit = True
                    os.kill(role.proc.pid, signal.SIGCONT)
                    os.kill(role.proc.pid, signal.SIGTERM)
            codes: dict[str, int | None] = {}
            deadline = time.monotonic() + timeout_s
            for role in self.roles.values():
                if role.proc is None:
                    continue
                try:
                    codes[role.name] = role.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.kill(role.proc.pid, signal.SIGKILL)
                    role.proc.wait(10)
                    codes[role.name] = None
            return codes

    def kill_all(self) -> None:
        with self._lock:
            for role in self.roles.values():
                role.wanted = False
                if role.alive():
                    assert role.proc is not None
                    os.kill(role.proc.pid, signal.SIGKILL)
                    role.proc.wait(10)

    def last_error(self, name: str) -> str:
        """The last ``shardline: error: …`` line of the role's log (why it exited)."""
        lines = [line for line in self.tail(name, 20_000).splitlines()
                 if line.startswith("shardline: error:")]
        return lines[-1].removeprefix("shardline: error: ") if lines else "no error line"

    def tail(self, name: str, n: int = 3000) -> str:
        return (self.logs / f"{name}.log").read_bytes()[-n:].decode(errors="replace")
