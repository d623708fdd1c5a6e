"""What every server of the local stack provides to the manager, and how its state is shown."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from ground.settings import Settings
from shardline.stack.preflight import PortClaim
from shardline.stack.process import Launch, PidFile
from shardline.stack.progress import Reporter

__all__ = [
    "Component",
    "ComponentState",
    "ComponentStatus",
    "Health",
    "http_json",
    "http_status",
]


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str


class ComponentState(StrEnum):
    RUNNING = "running"  # started by this stack (pid file, process alive) and healthy
    STARTING = "starting"  # ours and alive, not healthy yet
    STOPPED = "stopped"  # not ours, nothing answers
    EXTERNAL = "external"  # not started by this stack, but something healthy answers


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    name: str
    description: str
    state: ComponentState
    pid: int | None
    ports: Mapping[str, int] = field(default_factory=dict)
    endpoint: str = ""
    health: str = ""
    log_path: Path | None = None

    @property
    def healthy(self) -> bool:
        return self.state in (ComponentState.RUNNING, ComponentState.EXTERNAL)


class Component(ABC):
    """One server: provisioned into the cache, configured under ``<home>/<name>``, launched."""

    name: ClassVar[str]
    health_timeout_s: ClassVar[float] = 60.0

    def __init__(self, settings: Settings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.home = settings.home
        self.cache = settings.cache.expanduser().resolve()

    @property
    def dir(self) -> Path:
        return self.home / self.name

    @property
    def log_path(self) -> Path:
        return self.dir / f"{self.name}.log"

    @property
    def pid_file(self) -> PidFile:
        return PidFile(self.home / "run" / f"{self.name}.pid")

    @property
    @abstractmethod
    def description(self) -> str:
        """Product and version, e.g. ``Kafka 4.3.1``."""

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """Where clients connect."""

    @abstractmethod
    def ports(self) -> list[PortClaim]:
        """Every port the server binds, with the setting that moves it."""

    @abstractmethod
    def preflight(self) -> None:
        """Find the tools this component still needs (given what is cached); raise if missing."""

    @abstractmethod
    def provision(self, reporter: Reporter) -> None:
        """Download/build into the cache (skipped when present) and prepare ``self.dir``."""

    @abstractmethod
    def launch(self) -> Launch:
        """The command that runs the server in the foreground."""

    @abstractmethod
    def probe(self, timeout_s: float = 2.0) -> Health:
        """One health check, with a short detail (e.g. cluster status, or why not)."""

    def ready(self) -> None:
        """Called once the component is healthy after ``up`` (started now or before):
        set-up that needs the running server (e.g. users). Nothing by default."""
        return None


# Local servers: never route health checks through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout_s: float, *, ca: Path | None = None) -> int | None:
    """HTTP status of a GET, or None when nothing answers. ``ca``: for an ``https://`` URL,
    the PEM file its certificate must be signed by (verification is always on)."""
    opener = _OPENER
    if ca is not None:
        https = urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(ca)))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), https)
    try:
        with opener.open(url, timeout=timeout_s) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def http_json(url: str, timeout_s: float) -> object | None:
    try:
        with _OPENER.open(url, timeout=timeout_s) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None
