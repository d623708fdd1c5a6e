"""run_host offline: the worker runs until every loop returned, stops the others when one
fails and raises its error, and refuses a port it cannot bind before anything starts. A
:class:`FakeLoop` stands in for the SQL runtime and the deliveries (no Kafka)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from ground.errors import ConfigError, RuntimeFailure, ShardlineError
from ground.settings import Settings
from shardline.host import HostApp, ServiceState, run_host
from tests.unit.shardline.host.fakes import FakeLoop


def test_runs_until_every_loop_returned(settings: Settings, fresh_loop: Any) -> None:
    app = HostApp("host-test", settings)
    quick = app.add_service(FakeLoop("quick", run_s=0.1))
    slow = app.add_service(FakeLoop("slow", run_s=0.6))
    run_host(app)
    assert quick.result == "quick done" and slow.result == "slow done"
    assert quick.loop_state is slow.loop_state is ServiceState.STOPPED
    # each returned on its own: neither was asked to stop
    assert quick.stop_requests == slow.stop_requests == 0


def test_a_failure_stops_the_others_and_is_raised(settings: Settings, fresh_loop: Any) -> None:
    app = HostApp("host-test", settings)
    broken = app.add_service(FakeLoop("broken", fail=ConfigError("x", "bad"), up_after_s=0.2))
    steady = app.add_service(FakeLoop("steady"))  # runs until stopped
    with pytest.raises(ConfigError, match="x: bad"):
        run_host(app)
    assert broken.loop_state is ServiceState.FAILED
    assert steady.loop_state is ServiceState.STOPPED and steady.stop_requests == 1
    assert steady.result == "steady done"  # it finished its work before the worker ended


def test_a_foreign_exception_becomes_a_shardline_error(
    settings: Settings, fresh_loop: Any
) -> None:
    app = HostApp("host-test", settings)
    app.add_service(FakeLoop("broken", fail=KeyError("k")))
    with pytest.raises(ShardlineError, match="KeyError: 'k'"):
        run_host(app)


def test_nothing_to_run_and_late_or_duplicate_services_are_refused(settings: Settings) -> None:
    app = HostApp("host-test", settings)
    with pytest.raises(ShardlineError, match="no services"):
        run_host(app)
    app.add_service(FakeLoop("a"))
    with pytest.raises(ConfigError, match="two fake services named 'a'"):
        app.add_service(FakeLoop("a"))


def test_a_loop_that_will_not_stop_does_not_hold_the_worker(
    settings: Settings, fresh_loop: Any
) -> None:
    app = HostApp("host-test", settings)
    stuck = app.add_service(FakeLoop("stuck", ignore_stop=True, shutdown_timeout_s=0.5))
    app.add_service(FakeLoop("broken", fail=RuntimeFailure("gone"), up_after_s=0.2))
    with pytest.raises(RuntimeFailure, match="gone"):
        run_host(app)
    assert stuck.stop_requests == 1 and stuck.loop_state is ServiceState.STOPPING


def test_a_taken_port_fails_before_anything_starts(settings: Settings, fresh_loop: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = HostApp("host-test", settings, web_port=port)
        loop = app.add_service(FakeLoop("never"))
        with pytest.raises(ConfigError, match=f"--web-port: cannot serve on 127.0.0.1:{port}"):
            run_host(app)
    assert loop.loop_state is ServiceState.STARTING and not loop.up.is_set()


def test_asyncio_loop_is_left_usable(settings: Settings, fresh_loop: Any) -> None:
    app = HostApp("host-test", settings)
    app.add_service(FakeLoop("quick", run_s=0.05))
    run_host(app)
    assert asyncio.run(asyncio.sleep(0, result=7)) == 7
