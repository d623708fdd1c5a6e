"""Injecting the schedule's faults, and healing them when their time is up.

:class:`Chaos` runs on its own thread: at each fault's ``at_s`` it injects it, at its
``end_s`` it heals it (restarting a server happens on a thread of its own, so a slow restart
delays nothing else; the next fault on that server waits until it is back). Every fault
leaves an :class:`Injected` record: when it really started and ended, what it hit (a pid)
and what happened (e.g. the worker died of its memory cap).
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import threading
from dataclasses import dataclass, field

from tests.integration.fault_proxy import FaultProxy, Mode
from tests.soak.schedule import Fault, Kind
from tests.soak.servers import PrivateServers
from tests.soak.supervisor import Supervisor, vm_size_mb

__all__ = ["Chaos", "Injected"]

log = logging.getLogger(__name__)
MB = 1024 * 1024


@dataclass
class Injected:
    fault: Fault
    started_s: float = 0.0
    healed_s: float | None = None
    pid: int | None = None
    notes: list[str] = field(default_factory=list)


class Chaos(threading.Thread):
    def __init__(self, schedule: list[Fault], supervisor: Supervisor, servers: PrivateServers,
                 proxies: dict[str, FaultProxy]) -> None:
        super().__init__(name="soak-chaos", daemon=True)
        self.schedule = sorted(schedule, key=lambda f: f.at_s)
        self.sup, self.servers, self.proxies = supervisor, servers, proxies
        self.done: list[Injected] = []
        self.errors: list[str] = []
        self._active: list[Injected] = []
        self._healing: list[threading.Thread] = []
        self._restarting: dict[str, threading.Thread] = {}  # target -> its restart
        self.stop_event = threading.Event()

    def run(self) -> None:
        pending = list(self.schedule)
        while not self.stop_event.is_set() and (pending or self._active):
            now = self.sup.now()
            while pending and pending[0].at_s <= now:
                restarting = self._restarting.get(pending[0].target)
                if restarting is not None and restarting.is_alive():
                    break  # its previous restart is still under way: this one waits
                fault = pending.pop(0)
                item = Injected(fault, started_s=round(now, 1))
                try:
                    self._inject(item)
                except Exception as exc:  # a fault that could not be injected is reported
                    self.errors.append(f"{fault.describe()}: inject: {exc!r}")
                    log.exception("soak: injecting %s", fault.describe())
                self._active.append(item)
                self.done.append(item)
                log.info("soak: inject %s", fault.describe())
            for item in [a for a in self._active if a.fault.end_s <= now]:
                self._active.remove(item)
                self._heal_soon(item)
            self.stop_event.wait(0.2)
        for item in self._active:  # stopped early: heal what is still on
            self._heal_soon(item)
        for t in self._healing:
            t.join(300)

    def heal_all(self) -> None:
        self.stop_event.set()
        self.join(400)

    def _heal_soon(self, item: Injected) -> None:
        def target() -> None:
            try:
                self._heal(item)
            except Exception as exc:
                self.errors.append(f"{item.fault.describe()}: heal: {exc!r}")
                log.exception("soak: healing %s", item.fault.describe())
            item.healed_s = round(self.sup.now(), 1)
            log.info("soak: healed %s", item.fault.describe())

        if item.fault.kind in (Kind.BROKER, Kind.MINIO):
            thread = threading.Thread(target=target, daemon=True)
            self._healing.append(thread)
            self._restarting[item.fault.target] = thread
            thread.start()
        else:
            target()

    # -- the faults --------------------------------------------------------------------------
    def _inject(self, item: Injected) -> None:
        fault, kind = item.fault, item.fault.kind
        if kind is Kind.KILL9:
            self.sup.roles[fault.target].held = True
            item.pid = self.sup.signal(fault.target, signal.SIGKILL)
        elif kind is Kind.PAUSE:
            item.pid = self.sup.signal(fault.target, signal.SIGSTOP)
        elif kind is Kind.BROKER or kind is Kind.MINIO:
            item.pid = self.servers.pid(fault.target)
            self.servers.kill9(fault.target)
        elif kind is Kind.ES_THROTTLE:
            self.proxies["es-proxy"].set_mode(Mode.ALTERNATE)
        elif kind is Kind.ES_DOWN:
            self.proxies["es-proxy"].set_mode(Mode.REFUSE)
        elif kind is Kind.DELAY:
            self.proxies[fault.target].delay_s = fault.amount
        elif kind is Kind.JOIN:
            role = self.sup.roles[fault.target]
            role.wanted = True
            self.sup.watch()  # starts it
            item.pid = role.proc.pid if role.proc is not None else None
        elif kind is Kind.MEMCAP:
            role = self.sup.roles[fault.target]
            if role.alive():
                assert role.proc is not None
                pid = role.proc.pid
                size = vm_size_mb(pid)
                if size is not None:
                    _soft, hard = resource.prlimit(pid, resource.RLIMIT_AS)
                    cap = int((size + fault.amount) * MB)
                    resource.prlimit(pid, resource.RLIMIT_AS, (cap, hard))
                    role.capped = True
                    item.pid = pid
                    item.notes.append(f"cap {size + fault.amount:.0f} MB of address space")

    def _heal(self, item: Injected) -> None:
        fault, kind = item.fault, item.fault.kind
        if kind is Kind.KILL9:
            self.sup.roles[fault.target].held = False
            self.sup.watch()  # restarts it
        elif kind is Kind.PAUSE:
            if item.pid is not None:
                try:
                    os.kill(item.pid, signal.SIGCONT)
                except ProcessLookupError:
                    item.notes.append("gone before SIGCONT")
        elif kind is Kind.BROKER or kind is Kind.MINIO:
            took = self.servers.start(fault.target)
            item.notes.append(f"restart {took:.1f}s")
        elif kind is Kind.ES_THROTTLE or kind is Kind.ES_DOWN:
            item.notes.append(f"faulted {self.proxies['es-proxy'].faulted} requests so far")
            self.proxies["es-proxy"].set_mode(Mode.PASS)
        elif kind is Kind.DELAY:
            self.proxies[fault.target].delay_s = 0.0
        elif kind is Kind.JOIN:
            self.sup.roles[fault.target].wanted = False
            self.sup.signal(fault.target, signal.SIGTERM)
        elif kind is Kind.MEMCAP:
            role = self.sup.roles[fault.target]
            role.capped = False
            if item.pid is not None and role.alive() and role.proc is not None \
                    and role.proc.pid == item.pid:
                _soft, hard = resource.prlimit(item.pid, resource.RLIMIT_AS)
                resource.prlimit(item.pid, resource.RLIMIT_AS, (hard, hard))
                item.notes.append("survived the cap")
            elif item.pid is not None:
                item.notes.append("died of the cap (restarted)")
