"""Unit tests are offline: no test of this folder talks to a Kafka broker."""

from __future__ import annotations

from collections.abc import Collection

import pytest

import pipelines.sql.application as sql_application


class _NoBroker:
    """The stable-offset probe of an application built in a unit test: a broker that does
    not answer, which the stages behind a repartition treat as no probe at all
    (:mod:`pipelines.sql.shuffle`). The real one would ask whatever broker
    ``SHARDLINE_KAFKA_BOOTSTRAP`` names, or wait on one that is not there."""

    def __init__(self, *_: object, **__: object) -> None:
        self.calls = 0

    def new_poll(self) -> None:
        pass

    def __call__(self, partitions: Collection[tuple[str, int]]) -> dict[tuple[str, int], int]:
        self.calls += 1
        return {}


@pytest.fixture(autouse=True)
def _offline_stable_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_application, "StableOffsets", _NoBroker)
