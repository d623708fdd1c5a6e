"""Checks made before anything starts: the tools on PATH and the ports to bind.

Each failure is one actionable sentence: :class:`ToolMissingError` says what to install,
:class:`PortInUseError` names the port and the setting that moves it.
"""

from __future__ import annotations

import errno
import re
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ground.errors import PortInUseError, StackError, ToolMissingError
from shardline.stack.versions import MIN_JAVA_MAJOR

__all__ = [
    "INSTALL_HINTS",
    "Java",
    "PortClaim",
    "check_distinct",
    "check_ports_free",
    "find_java",
    "require_tool",
]

INSTALL_HINTS: dict[str, str] = {
    "java": f"install a JDK {MIN_JAVA_MAJOR}+ (apt-get install openjdk-17-jdk-headless) "
    "or set JAVA_HOME",
    "mvn": "install Maven 3.8+ (apt-get install maven)",
    "go": "install Go 1.24+ (https://go.dev/dl) and put `go` on PATH",
}


@dataclass(frozen=True, slots=True)
class PortClaim:
    """A port a component wants: ``setting`` is the environment variable that moves it."""

    component: str
    host: str
    port: int
    setting: str


@dataclass(frozen=True, slots=True)
class Java:
    home: Path
    major: int

    @property
    def binary(self) -> Path:
        return self.home / "bin" / "java"


def require_tool(name: str, env: Mapping[str, str], why: str = "") -> Path:
    """The absolute path of ``name`` on ``env['PATH']``, or ToolMissingError saying what to do."""
    found = shutil.which(name, path=env.get("PATH", ""))
    if found is None:
        purpose = f" (needed to {why})" if why else ""
        hint = INSTALL_HINTS.get(name, f"install {name}")
        raise ToolMissingError(f"`{name}` not found on PATH{purpose}: {hint}")
    return Path(found)


def find_java(env: Mapping[str, str]) -> Java:
    """The JDK from ``JAVA_HOME``, else the one `java` on PATH belongs to; checks its version."""
    java_home = env.get("JAVA_HOME", "").strip()
    if java_home:
        home = Path(java_home)
        if not (home / "bin" / "java").is_file():
            raise ToolMissingError(
                f"JAVA_HOME={java_home} has no bin/java: {INSTALL_HINTS['java']}"
            )
    else:
        # /usr/bin/java -> /etc/alternatives/java -> <jdk>/bin/java
        home = require_tool("java", env, "run Kafka and the search engine").resolve().parent.parent
    major = _java_major(home)
    if major is not None and major < MIN_JAVA_MAJOR:
        raise ToolMissingError(
            f"Java {major} at {home} is too old (need {MIN_JAVA_MAJOR}+): {INSTALL_HINTS['java']}"
        )
    return Java(home=home, major=major or MIN_JAVA_MAJOR)


def _java_major(home: Path) -> int | None:
    """Major version from the JDK's ``release`` file (``JAVA_VERSION="17.0.15"``)."""
    try:
        text = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', text, re.MULTILINE)
    return int(match.group(1)) if match else None


def check_distinct(claims: list[PortClaim]) -> None:
    """StackError if two claims want the same port (a settings mistake, not a busy port)."""
    seen: dict[int, PortClaim] = {}
    for claim in claims:
        other = seen.setdefault(claim.port, claim)
        if other is not claim:
            raise StackError(
                f"{other.component} and {claim.component} are both configured for port "
                f"{claim.port}: change {other.setting} or {claim.setting}"
            )


def check_ports_free(claims: list[PortClaim]) -> None:
    """Bind each port once (as a server would) and raise PortInUseError for the first taken."""
    check_distinct(claims)
    for claim in claims:
        if not _bindable(claim.host, claim.port):
            raise PortInUseError(
                f"port {claim.port} on {claim.host} (for {claim.component}) is already in use: "
                f"stop what listens there or set {claim.setting} to another port"
            )


def _bindable(host: str, port: int) -> bool:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise StackError(f"cannot resolve bind address {host!r}: {exc}") from exc
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Like the servers themselves: a port left in TIME_WAIT by a stopped server is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise StackError(f"cannot bind {host}:{port}: {exc}") from exc
    return True
