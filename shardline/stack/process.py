"""Background server processes and the pid files that remember them.

A pid file records the pid *and* the process start time (from ``/proc``), so a pid that
the kernel has since handed to another program is never mistaken for ours — ``down`` only
signals processes this stack started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ground.errors import StackError

__all__ = [
    "DEFAULT_STOP_TIMEOUT_S",
    "Launch",
    "PidFile",
    "PidRecord",
    "process_start_ticks",
    "run_checked",
    "is_alive",
    "spawn",
    "stop",
    "tail",
]

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Launch:
    """How to start one server: argv, extra environment, working dir, and an optional user."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)  # may hold secrets (MinIO root password)
    cwd: Path
    user: str | None = None


@dataclass(frozen=True, slots=True)
class PidRecord:
    pid: int
    start_ticks: int | None
    started_at: str
    argv0: str


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None if unknown / not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rpartition(")")[2].split()
    return int(fields[19])  # field 22 overall


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class PidFile:
    """``<dir>/<name>.pid``: JSON with pid, start ticks, start time and program."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> PidRecord | None:
        try:
            data = json.loads(self.path.read_text())
            return PidRecord(
                pid=int(data["pid"]),
                start_ticks=data.get("start_ticks"),
                started_at=str(data.get("started_at", "")),
                argv0=str(data.get("argv0", "")),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable pid file %s", self.path)
            return None

    def write(self, pid: int, argv0: str) -> PidRecord:
        record = PidRecord(
            pid=pid,
            start_ticks=process_start_ticks(pid),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            argv0=argv0,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)) + "\n")
        tmp.replace(self.path)
        return record

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def live(self) -> PidRecord | None:
        """The record if its process is still the one we started, else None (stale file removed)."""
        record = self.read()
        if record is None:
            return None
        if is_alive(record):
            return record
        log.info("removing stale pid file %s (pid %d is gone)", self.path, record.pid)
        self.remove()
        return None


def is_alive(record: PidRecord) -> bool:
    if not _exists(record.pid) or _is_zombie(record.pid):
        return False
    ticks = process_start_ticks(record.pid)
    # Same pid, different start time: the kernel reused the pid for another program.
    return record.start_ticks is None or ticks is None or ticks == record.start_ticks


def spawn(launch: Launch, log_path: Path, base_env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``launch`` in its own session, stdout+stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**base_env, **launch.env}
    kwargs: dict[str, object] = {}
    if launch.user is not None:
        kwargs.update(user=launch.user, group=_primary_group(launch.user), extra_groups=[])
    with open(log_path, "ab") as out:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        out.write(f"\n=== shardline: starting {launch.argv[0]} at {stamp}\n".encode())
        out.flush()
        log.debug("spawning %s (cwd %s, log %s)", " ".join(launch.argv), launch.cwd, log_path)
        try:
            return subprocess.Popen(  # type: ignore[call-overload]
                list(launch.argv),
                cwd=launch.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI; its own process group
                close_fds=True,
                **kwargs,
            )
        except OSError as exc:
            raise StackError(f"could not start {launch.argv[0]}: {exc}") from exc


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def stop(
    record: PidRecord,
    timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """SIGTERM the recorded process, wait, then SIGKILL its process group. True if it was running.

    The process was started with ``start_new_session``, so its pid is also its process
    group id: on timeout the whole group is killed (e.g. the Elasticsearch server JVM under
    its launcher), while the leader is still verified to be ours.
    """
    if not is_alive(record):
        return False
    pid = record.pid
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = clock() + timeout_s
    while clock() < deadline:
        if not is_alive(record):
            break
        sleep(0.2)
    else:
        log.warning("pid %d did not stop within %.0fs; sending SIGKILL", pid, timeout_s)
        _kill(record)
        end = clock() + 10.0
        while is_alive(record) and clock() < end:
            sleep(0.1)
    return True


def _kill(record: PidRecord) -> None:
    """SIGKILL the process group led by the (still live, verified) recorded process."""
    if not is_alive(record):
        return
    try:
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, signal.SIGKILL)
        else:
            os.kill(record.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file (reads at most a few MB from the end)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            chunk = min(size, max(64 * 1024, lines * 512))
            fh.seek(size - chunk)
            data = fh.read()
    except FileNotFoundError:
        return []
    text = data.decode("utf-8", errors="replace").splitlines()
    return text[-lines:] if lines > 0 else []


def run_checked(
    argv: list[str], *, log_path: Path, env: Mapping[str, str], cwd: Path | None = None, what: str
) -> None:
    """Run a provisioning command to completion, output to ``log_path``; StackError on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.debug("running %s (log %s)", " ".join(argv), log_path)
    with open(log_path, "wb") as out:
        try:
            code = subprocess.run(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            ).returncode
        except OSError as exc:
            raise StackError(f"could not {what}: {exc}") from exc
    if code != 0:
        last = " | ".join(line.strip() for line in tail(log_path, 3) if line.strip())
        raise StackError(f"could not {what} (exit {code}): {last[-300:]} — full log: {log_path}")
