"""The host offline: what it starts and in which order, when it stops, what it serves.

A :class:`FakeLoop` stands in for the SQL runtime and the deliveries, so the whole Faust
worker (lifecycle, signals aside, web server) runs without Kafka.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import faust
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ground.errors import ConfigError, RuntimeFailure, ShardlineError
from ground.settings import Settings
from pipelines.runtime import RuntimeConfig
from shardline.host import HostApp, ServiceState, run_host
from shardline.host.sql import SqlOutput, SqlService
from tests.unit.host.fakes import FakeLoop


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"SHARDLINE_HOME": str(tmp_path)})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def sql_service(settings: Settings, name: str = "app") -> SqlService:
    """A runtime service never started: the runtime opens no client before ``run``."""
    return SqlService(
        RuntimeConfig(name, ("in",), output_topics=("out", "errors")), settings,
        lambda _t, _p: None,  # type: ignore[arg-type,return-value]
        outputs={"DESTINATION_SQL_STREAM": SqlOutput("out", "JSON"),
                 "CSV_STREAM": SqlOutput("out-csv", "CSV")},
    )  # fmt: skip


# -- running -------------------------------------------------------------------------------
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


# -- the web server ------------------------------------------------------------------------
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


def test_sql_runtime_counters_are_exported(settings: Settings) -> None:
    app = HostApp("host-test", settings)
    sql = app.add_service(sql_service(settings, "ticks"))
    sql.stats.records, sql.stats.commits, sql.stats.aborts = 1_234, 5, 1
    text = app_metrics(app)
    assert text[("shardline_runtime_records_total", (("application", "ticks"),))] == 1_234
    assert text[("shardline_runtime_commits_total", (("application", "ticks"),))] == 5
    assert text[("shardline_runtime_aborts_total", (("application", "ticks"),))] == 1
    assert text[("shardline_service_up", (("kind", "sql"), ("service", "ticks")))] == 0
    # the delivery metrics join the same registry
    app.delivery_metrics.on_incoming("d", "t", 0, 3, 30)
    assert app_metrics(app)[("firehose_incoming_records_total",
                             (("delivery_stream", "d"), ("partition", "0"), ("topic", "t")))] == 3


def app_metrics(app: HostApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client import generate_latest

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(generate_latest(app.registry).decode())
            for s in f.samples}


# -- Faust's part: boot order, user agents -------------------------------------------------
def _names(services: Any) -> list[str]:
    return [type(s).__name__ for s in services]


def test_without_agents_faust_starts_no_kafka_client(settings: Settings) -> None:
    app = HostApp("host-test", settings, web_port=free_port())
    app.add_service(FakeLoop("loop"))
    graph = _names(app.boot_strategy.server())
    assert "FakeLoop" in graph and "HostWeb" in graph
    assert not {"Producer", "ReadCommittedConsumer", "Conductor", "TableManager"} & set(graph)
    assert graph.index("HostWeb") < graph.index("FakeLoop")


def test_with_an_agent_kafka_starts_after_the_loops(settings: Settings) -> None:
    app = HostApp("agents", settings)
    sql = app.add_service(sql_service(settings, "app"))
    topic = app.sql_output(sql, "DESTINATION_SQL_STREAM")

    @app.agent(topic)
    async def watch(stream: faust.StreamT[Any]) -> None:
        async for _ in stream:
            pass

    graph = _names(app.boot_strategy.server())
    assert graph.index("SqlService") < graph.index("ReadCommittedConsumer")
    assert graph.index("SqlService") < graph.index("AgentManager")
    assert type(app.transport).__name__ == "ReadCommittedTransport"


def test_the_agents_group_must_not_be_a_sql_applications(settings: Settings) -> None:
    app = HostApp("app", settings)
    sql = app.add_service(sql_service(settings, "app"))

    @app.agent(app.sql_output(sql, "DESTINATION_SQL_STREAM"))
    async def watch(stream: faust.StreamT[Any]) -> None:
        async for _ in stream:
            pass

    with pytest.raises(ConfigError, match="id: the Faust app id 'app' is its agents' consumer"):
        app.boot_strategy.server()


def test_sql_output_topics(settings: Settings) -> None:
    app = HostApp("agents", settings)
    sql = sql_service(settings)
    json_topic = app.sql_output(sql, "DESTINATION_SQL_STREAM")
    assert json_topic.get_topic_name() == "out"
    assert (json_topic.key_serializer, json_topic.value_serializer) == ("raw", "json")
    assert app.sql_output(sql, "CSV_STREAM").value_serializer == "raw"
    with pytest.raises(ConfigError, match="stream: app has no output 'NOPE'"):
        app.sql_output(sql, "NOPE")


def test_asyncio_loop_is_left_usable(settings: Settings, fresh_loop: Any) -> None:
    app = HostApp("host-test", settings)
    app.add_service(FakeLoop("quick", run_s=0.05))
    run_host(app)
    assert asyncio.run(asyncio.sleep(0, result=7)) == 7
