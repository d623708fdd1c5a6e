"""Pytest plugin: uniquely named Kafka topics for integration tests.

``topic_factory(partitions=N, prefix="it") -> name`` creates a fresh topic on the stack of
``stack_settings`` and waits until every partition has a leader. The topics a test made are
deleted when it ends (best effort: a failed delete is logged, never a test failure).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import pytest

from shardline.kafka import admin_client, ensure_topics
from shardline.settings import Settings

__all__ = ["topic_factory"]

log = logging.getLogger(__name__)

TopicFactory = Callable[..., str]


@pytest.fixture
def topic_factory(
    stack_settings: Settings, request: pytest.FixtureRequest
) -> Iterator[TopicFactory]:
    bootstrap = stack_settings.kafka_bootstrap
    created: list[str] = []
    test_name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-")

    def make(
        partitions: int = 1, *, prefix: str = "it", config: dict[str, str] | None = None
    ) -> str:
        name = f"{prefix}-{test_name}-{uuid.uuid4().hex[:8]}"
        ensure_topics(bootstrap, [name], partitions, config=config)
        created.append(name)
        return name

    yield make

    if created:
        try:
            admin = admin_client(bootstrap)  # kept alive until the futures resolve
            futures = admin.delete_topics(created, operation_timeout=10)
            for topic, fut in futures.items():
                try:
                    fut.result(timeout=15)
                except Exception as exc:  # best effort
                    log.warning("could not delete topic %s: %s", topic, exc)
        except Exception as exc:  # best effort
            log.warning("could not delete topics %s: %s", created, exc)
