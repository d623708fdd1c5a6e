"""HostApp and Faust: what the worker starts, in which order, and the topics of user agents."""

from __future__ import annotations

from typing import Any

import faust
import pytest

from ground.errors import ConfigError
from ground.settings import Settings
from shardline.host import HostApp
from tests.unit.shardline.host.fakes import FakeLoop, free_port, sql_service


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
