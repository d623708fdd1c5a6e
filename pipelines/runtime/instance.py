"""A stable identity per worker: what its ``transactional.id`` is made of.

A worker restarted on the same host must get the same ``transactional.id`` as the one it
replaces, so that its ``init_transactions()`` aborts whatever transaction the predecessor
left open (instead of that transaction blocking readers until it times out). Two live
workers must never share one, or they fence each other.

Without an explicit ``instance_id`` the worker claims the lowest free *slot* on this host:
``<home>/runtime/<application_id>/slot-<n>.lock``, held with ``flock`` for the life of the
process. The kernel drops the lock when the process dies (even by ``kill -9``), so a
restarted worker claims the same slot again; the instance id is ``<hostname>-<n>``.
An explicit ``instance_id`` is locked the same way, so a second live worker using the same
one on this host fails at start-up instead of fencing the first.
"""

from __future__ import annotations

import fcntl
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from ground.errors import ConfigError

__all__ = ["MAX_SLOTS", "InstanceSlot", "claim_instance", "transactional_id"]

MAX_SLOTS = 1024


def transactional_id(application_id: str, instance_id: str) -> str:
    return f"{application_id}-{instance_id}"


@dataclass(slots=True)
class InstanceSlot:
    """A claimed identity; keep it until the worker stops, then :meth:`release` it."""

    instance_id: str
    lock_path: Path
    _fd: int = field(repr=False)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def claim_instance(
    home: Path,
    application_id: str,
    instance_id: str | None = None,
    *,
    hostname: str | None = None,
    max_slots: int = MAX_SLOTS,
) -> InstanceSlot:
    """Claim ``instance_id``, or the lowest free slot of ``application_id`` on this host."""
    directory = Path(home) / "runtime" / _safe(application_id)
    directory.mkdir(parents=True, exist_ok=True)
    if instance_id is not None:
        path = directory / f"id-{_safe(instance_id)}.lock"
        fd = _try_lock(path)
        if fd is None:
            raise ConfigError(
                "instance_id",
                f"{instance_id!r} is held by another live worker on this host ({path})",
            )
        return InstanceSlot(instance_id, path, fd)
    host = _safe(hostname or socket.gethostname())
    for slot in range(max_slots):
        path = directory / f"slot-{slot}.lock"
        fd = _try_lock(path)
        if fd is not None:
            return InstanceSlot(f"{host}-{slot}", path, fd)
    raise ConfigError(
        "instance_id", f"all {max_slots} worker slots of {application_id!r} are taken ({directory})"
    )
