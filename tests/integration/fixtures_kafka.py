"""Pytest plugin: uniquely named Kafka topics for integration tests.

``topic_factory(partitions=N, prefix="it") -> name`` creates a fresh topic on the stack of
``stack_settings`` and waits until every partition has a leader; ``name=`` takes an exact
name instead (a topic some component will look for, e.g. a changelog). The topics a test
made are deleted when it ends (best effort: a failed delete is logged, never a test
failure). ``module_topic_factory`` is the same for topics a whole test module shares.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import pytest

from ground.kafka import admin_client, ensure_topics
from ground.kafka_config import KafkaConfig
from ground.settings import Settings

__all__ = ["module_topic_factory", "topic_factory"]

log = logging.getLogger(__name__)

TopicFactory = Callable[..., str]


def _factory(kafka: KafkaConfig, stem: str) -> Iterator[TopicFactory]:
    created: list[str] = []
    stem = "".join(c if c.isalnum() else "-" for c in stem)[:40].strip("-")

    def make(
        partitions: int = 1,
        *,
        prefix: str = "it",
        config: dict[str, str] | None = None,
        name: str | None = None,
    ) -> str:
        name = name or f"{prefix}-{stem}-{uuid.uuid4().hex[:8]}"
        ensure_topics(kafka, [name], partitions, config=config)
        created.append(name)
        return name

    yield make

    if created:
        try:
            admin = admin_client(kafka)  # kept alive until the futures resolve
            futures = admin.delete_topics(created, operation_timeout=10)
            for topic, fut in futures.items():
                try:
                    fut.result(timeout=15)
                except Exception as exc:  # best effort
                    log.warning("could not delete topic %s: %s", topic, exc)
        except Exception as exc:  # best effort
            log.warning("could not delete topics %s: %s", created, exc)


@pytest.fixture
def topic_factory(
    stack_settings: Settings, request: pytest.FixtureRequest
) -> Iterator[TopicFactory]:
    yield from _factory(stack_settings.kafka, request.node.name)


@pytest.fixture(scope="module")
def module_topic_factory(
    stack_settings: Settings, request: pytest.FixtureRequest
) -> Iterator[TopicFactory]:
    yield from _factory(stack_settings.kafka, request.module.__name__.rpartition(".")[2])
