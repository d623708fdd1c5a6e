"""The destination contract: three calls, and hooks whose defaults do nothing.

A destination is ``encode(batch) -> request``, ``await send(request) -> response`` and
``classify(batch, request, response) -> Outcome``. Transport errors (timeouts, refused
connections) are *responses* too, so every retry decision lives in ``classify``. ``encode``
runs in an encoder thread; ``send`` on the worker's event loop.

The hooks are optional capabilities, overridden by the destinations that have them:
``open``/``close`` around the worker's life (a session), ``prepare`` when partitions are
assigned (S3 aborts the uploads a crashed owner left), and ``written``, which tells what a
previous owner of the partition wrote (S3, whose keys come from the content; see
:mod:`connectors.core.alignment`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from connectors.core.outcome import Outcome, Probe
from connectors.core.records import Batch, TopicPartition

__all__ = ["Destination"]


class Destination(ABC):
    """What a destination implements. ``name`` appears in logs, metrics and errors."""

    name: str

    @abstractmethod
    def encode(self, batch: Batch) -> Any: ...

    @abstractmethod
    async def send(self, request: Any) -> Any: ...

    @abstractmethod
    def classify(self, batch: Batch, request: Any, response: Any) -> Outcome: ...

    async def open(self) -> None:
        """Before the first send of the worker (a session)."""
        return None

    async def close(self) -> None:
        """After the last send of the worker."""
        return None

    async def prepare(self, partitions: Sequence[TopicPartition]) -> int:
        """Newly assigned ``partitions``: clean up what a crashed owner left; returns how many
        leftovers there were."""
        return 0

    async def written(self, batch: Batch) -> Probe | None:
        """What a previous owner wrote of ``batch``'s output; None: this destination cannot
        tell (its writes are not keyed by content), and is not asked again."""
        return None
