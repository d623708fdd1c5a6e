"""Pytest plugin: the real local stack for integration tests.

``stack_settings`` (session scope) makes sure Kafka, MinIO and the search engine answer at
the endpoints of :meth:`Settings.from_env`. Components that are already healthy — started
from the same home, or by someone else on those ports — are reused as they are. Whatever
this session starts, and only that, is stopped when the session ends.

Point the tests at a private stack with the usual variables, e.g.
``SHARDLINE_HOME=/tmp/it SHARDLINE_KAFKA_BOOTSTRAP=127.0.0.1:29092 ...``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ground.settings import Settings
from shardline.stack import ComponentState, Stack

__all__ = ["stack_settings"]

log = logging.getLogger(__name__)

_OURS = (ComponentState.RUNNING, ComponentState.STARTING)


def _ours(stack: Stack) -> set[str]:
    return {s.name for s in stack.status() if s.state in _OURS}


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[Settings]:
    settings = Settings.from_env()
    stack = Stack(settings)
    before = stack.status()
    ours_before = {s.name for s in before if s.state in _OURS}
    missing = [s.name for s in before if not s.healthy]
    started: set[str] = set()
    try:
        if missing:
            log.info("starting %s under %s", ", ".join(missing), settings.home)
            started = set(stack.up(missing))
    except BaseException:
        # A partial start: stop what this session launched, then report the failure.
        leftovers = _ours(stack) - ours_before
        if leftovers:
            stack.down(sorted(leftovers))
        raise
    try:
        yield settings
    finally:
        if started:
            stack.down(sorted(started))
