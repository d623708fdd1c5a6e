"""The local stack as a whole: ``up``, ``down``, ``status`` over its components.

``up`` is idempotent: a component whose pid file names a live process of ours is left
alone (waited for, if it is still starting). Everything else is checked first (tools on
PATH, ports free), then provisioned, started and waited for in parallel. ``down`` stops
only processes named by this home's pid files.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from ground.errors import ConfigError, PortInUseError, StackError
from ground.settings import Settings
from shardline.stack.component import Component, ComponentState, ComponentStatus
from shardline.stack.kafka_cluster import kafka_components
from shardline.stack.minio import MinioComponent
from shardline.stack.preflight import check_distinct, check_ports_free
from shardline.stack.process import PidRecord, is_alive, spawn, stop, tail
from shardline.stack.progress import LogReporter, Reporter
from shardline.stack.registry import RegistryComponent
from shardline.stack.search import SearchComponent

__all__ = ["COMPONENTS", "Stack"]

log = logging.getLogger(__name__)

COMPONENTS = ("kafka", "minio", "search", "registry")
ALIASES = {
    "s3": "minio",
    "elasticsearch": "search",
    "opensearch": "search",
    "es": "search",
    "apicurio": "registry",
    "schema-registry": "registry",
}
POLL_INTERVAL_S = 0.5


class Stack:
    """The local servers of one home folder (``settings.home``).

    ``env`` is the environment tools are looked up in (PATH, JAVA_HOME) and that servers
    inherit; it defaults to this process's environment, read once here. ``components``
    replaces Kafka/MinIO/search/registry (tests run the manager on tiny fake servers).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        reporter: Reporter | None = None,
        clock: Callable[[], float] = time.monotonic,
        components: Iterable[Component] | None = None,
    ) -> None:
        self.settings = settings
        self.env = dict(os.environ if env is None else env)
        self.reporter: Reporter = reporter or LogReporter()
        self._clock = clock
        if components is None:
            components = (
                *kafka_components(settings, self.env),
                MinioComponent(settings, self.env),
                SearchComponent(settings, self.env),
                RegistryComponent(settings, self.env),
            )
        self.components: dict[str, Component] = {c.name: c for c in components}

    # -- selection -------------------------------------------------------------------------

    def select(self, names: Iterable[str] | None = None) -> list[Component]:
        """Components by name (or alias), in stack order; all of them for None / empty."""
        wanted = [ALIASES.get(n.lower(), n.lower()) for n in (names or ())]
        if "kafka" in wanted and "kafka" not in self.components:  # a cluster: every node
            wanted += [n for n in self.components if n.startswith("kafka-")]
            wanted.remove("kafka")
        unknown = [n for n in wanted if n not in self.components]
        if unknown:
            raise ConfigError(
                "component",
                f"unknown {unknown[0]!r}; expected one of {', '.join(self.components)}",
            )
        return [c for name, c in self.components.items() if not wanted or name in wanted]

    def log_path(self, name: str) -> Path:
        return self.select([name])[0].log_path

    # -- status ----------------------------------------------------------------------------

    def status(self, names: Iterable[str] | None = None) -> list[ComponentStatus]:
        comps = self.select(names)
        with ThreadPoolExecutor(max_workers=len(comps)) as pool:
            return list(pool.map(self._status, comps))

    def _status(self, comp: Component) -> ComponentStatus:
        record = comp.pid_file.live()
        health = comp.probe(timeout_s=1.5)
        if record is not None:
            state = ComponentState.RUNNING if health.ok else ComponentState.STARTING
        else:
            state = ComponentState.EXTERNAL if health.ok else ComponentState.STOPPED
        return ComponentStatus(
            name=comp.name,
            description=comp.description,
            state=state,
            pid=record.pid if record else None,
            ports={c.setting: c.port for c in comp.ports()},
            endpoint=comp.endpoint,
            health=health.detail,
            log_path=comp.log_path,
        )

    # -- up --------------------------------------------------------------------------------

    def up(self, names: Iterable[str] | None = None) -> tuple[str, ...]:
        """Bring the components up and wait until healthy. Returns the names it started."""
        comps = self.select(names)
        with self._locked():
            running: dict[str, PidRecord] = {}
            to_start: list[Component] = []
            for comp in comps:
                record = comp.pid_file.live()
                if record is not None:
                    running[comp.name] = record
                else:
                    to_start.append(comp)
            self._preflight(comps, to_start)

            def bring_up(comp: Component) -> bool:
                record = running.get(comp.name)
                if record is not None:
                    if comp.probe(timeout_s=2.0).ok:
                        self.reporter.note(comp.name, f"already running (pid {record.pid})")
                    else:
                        self._wait_healthy(comp, record)
                    comp.ready()
                    return False
                self._start(comp)
                comp.ready()
                return True

            with ThreadPoolExecutor(max_workers=len(comps)) as pool:
                futures = [(comp, pool.submit(bring_up, comp)) for comp in comps]
            started, errors = [], []
            for comp, fut in futures:
                exc = fut.exception()
                if exc is None:
                    if fut.result():
                        started.append(comp.name)
                else:
                    errors.append(exc)
            if errors:
                for exc in errors[1:]:
                    log.error("%s", exc)
                raise errors[0]
            return tuple(started)

    def _preflight(self, comps: list[Component], to_start: list[Component]) -> None:
        check_distinct([claim for comp in comps for claim in comp.ports()])
        for comp in to_start:
            comp.preflight()
        for comp in to_start:
            try:
                check_ports_free(comp.ports())
            except PortInUseError as exc:
                if comp.probe(timeout_s=1.0).ok:
                    raise PortInUseError(
                        f"{exc} (a server already answers at {comp.endpoint}, but it was not "
                        f"started from {self.settings.home})"
                    ) from None
                raise

    def _start(self, comp: Component) -> None:
        comp.provision(self.reporter)
        with self.reporter.step(comp.name, f"starting {comp.description} on {comp.endpoint}"):
            launch = comp.launch()
            proc = spawn(launch, comp.log_path, self.env)
            record = comp.pid_file.write(proc.pid, Path(launch.argv[0]).name)
            self._wait_healthy(comp, record, announce=False)

    def _wait_healthy(self, comp: Component, record: PidRecord, *, announce: bool = True) -> None:
        if announce:
            with self.reporter.step(comp.name, f"waiting for pid {record.pid} to be healthy"):
                self._wait_healthy(comp, record, announce=False)
            return
        deadline = self._clock() + comp.health_timeout_s
        while True:
            if not is_alive(record):
                comp.pid_file.remove()
                last = " | ".join(s.strip() for s in tail(comp.log_path, 3) if s.strip())
                raise StackError(
                    f"{comp.name} exited during start-up: {last[-300:]} — "
                    f"see `shardline stack logs {comp.name}` ({comp.log_path})"
                )
            if comp.probe(timeout_s=2.0).ok:
                return
            if self._clock() >= deadline:
                raise StackError(
                    f"{comp.name} (pid {record.pid}) not healthy after "
                    f"{comp.health_timeout_s:.0f}s; it is left running — see "
                    f"`shardline stack logs {comp.name}` or stop it with `shardline stack down`"
                )
            time.sleep(POLL_INTERVAL_S)

    # -- down ------------------------------------------------------------------------------

    def down(self, names: Iterable[str] | None = None) -> tuple[str, ...]:
        """Stop the components this home started. Returns the names it stopped."""
        comps = self.select(names)
        with self._locked():

            def bring_down(comp: Component) -> bool:
                record = comp.pid_file.live()
                if record is None:
                    self.reporter.note(comp.name, "not running")
                    return False
                with self.reporter.step(comp.name, f"stopping pid {record.pid}"):
                    stopped = stop(record)
                comp.pid_file.remove()
                return stopped

            with ThreadPoolExecutor(max_workers=len(comps)) as pool:
                results = list(pool.map(bring_down, comps))
        return tuple(c.name for c, stopped in zip(comps, results, strict=True) if stopped)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One ``up``/``down`` at a time per home (e.g. two test sessions starting at once)."""
        run = self.settings.home / "run"
        run.mkdir(parents=True, exist_ok=True)
        with open(run / "stack.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
