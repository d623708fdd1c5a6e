"""User agents read ``read_committed`` without Faust's exactly-once mode.

faust-streaming only asks aiokafka for ``read_committed`` with
``processing_guarantee="exactly_once"``; the host's consumer thread sets it on the consumer
it creates, before ``start()``. These tests pin both halves of that: the consumer the thread
builds, and aiokafka reading the attribute when ``start()`` builds its fetcher.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import aiokafka

from ground.settings import Settings
from shardline.host import HostApp
from shardline.host.kafka import ISOLATION_LEVEL, ReadCommittedConsumerThread


def test_the_agents_consumer_reads_committed(tmp_path: Path) -> None:
    app = HostApp("agents", Settings.from_env({"SHARDLINE_HOME": str(tmp_path)}))
    assert app.conf.processing_guarantee.value == "at_least_once"
    assert not app.in_transaction

    async def build() -> aiokafka.AIOKafkaConsumer:
        thread = app.consumer._thread  # type: ignore[attr-defined]
        assert isinstance(thread, ReadCommittedConsumerThread)
        return thread._create_worker_consumer(app.transport)

    consumer = asyncio.run(build())
    assert consumer._isolation_level == ISOLATION_LEVEL == "read_committed"
    assert consumer._group_id == "agents"


def test_aiokafka_reads_the_isolation_level_when_it_starts() -> None:
    source = inspect.getsource(aiokafka.AIOKafkaConsumer.start)
    assert "isolation_level=self._isolation_level" in source
