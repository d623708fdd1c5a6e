"""/health, /health/live and /metrics on Faust's web server, served while the loops run."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ground.errors import RuntimeFailure
from ground.settings import Settings
from shardline.host import HostApp, ServiceState, run_host
from tests.unit.shardline.host.fakes import FakeLoop, free_port, get


def test_serves_health_and_metrics_while_the_loops_run(
    settings: Settings, fresh_loop: Any
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def scrape(me: FakeLoop) -> dict[str, tuple[int, str, bytes]]:
        deadline = time.monotonic() + 5
        while not me.ready and time.monotonic() < deadline:  # the host polls is_running()
            time.sleep(0.01)
        return {path: get(base + path) for path in ("/health", "/health/live", "/metrics",
                                                    "/nothing")}

    app = HostApp("host-test", settings, web_port=port)
    assert app.conf.web_bind == "127.0.0.1"
    other = app.add_service(FakeLoop("other", up_after_s=0.0))
    prober = app.add_service(FakeLoop("prober", up_after_s=0.3, probe=scrape, run_s=0.1))
    other.run_s = 1.0
    run_host(app)
    got = prober.probed
    status, ctype, body = got["/health"]
    assert status == 200 and ctype.startswith("application/json")
    health = json.loads(body)
    assert health["status"] == "ready" and health["app"] == "host-test"
    assert [(s["name"], s["kind"], s["state"]) for s in health["services"]] == [
        ("other", "fake", "running"), ("prober", "fake", "running")]
    assert got["/health/live"][0] == 200
    status, ctype, body = got["/metrics"]
    assert status == 200 and ctype.startswith("text/plain")
    up = {tuple(sorted(s.labels.items())): s.value
          for f in text_string_to_metric_families(body.decode()) for s in f.samples
          if s.name == "shardline_service_up"}
    assert up == {(("kind", "fake"), ("service", "other")): 1.0,
                  (("kind", "fake"), ("service", "prober")): 1.0}
    assert got["/nothing"][0] == 404
    with pytest.raises(OSError):  # gone with the worker
        get(base + "/health")


def test_health_while_starting_stopping_and_after_a_failure(settings: Settings) -> None:
    app = HostApp("host-test", settings)
    a, b = app.add_service(FakeLoop("a")), app.add_service(FakeLoop("b"))
    assert app.health()[:2] == (True, False) and app.health()[2]["status"] == "starting"
    a.loop_state = b.loop_state = ServiceState.RUNNING
    assert app.health()[:2] == (True, True) and app.health()[2]["status"] == "ready"
    b.loop_state = ServiceState.STOPPING
    assert app.health()[:2] == (True, False) and app.health()[2]["status"] == "stopping"
    a.loop_state, a.error = ServiceState.FAILED, RuntimeFailure("lost")
    live, ready, body = app.health()
    assert (live, ready, body["status"]) == (False, False, "failed")
    assert body["services"][0]["error"] == "RuntimeFailure: lost"
