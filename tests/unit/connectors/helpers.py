"""Test seams: an in-memory destination speaking the tiny contract, its config (a destination
no registry knows in advance)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from connectors.core import (
    Batch,
    BufferingHints,
    DeliveryParts,
    Destination,
    DestinationConfig,
    Outcome,
    Record,
    RetryOptions,
    Section,
    Successful,
)
from ground.settings import Settings


def rec(offset: int, value: bytes | None = b'{"a":1}', *, partition: int = 0, topic: str = "t",
        key: bytes | None = None, ts: int = 1_700_000_000_000) -> Record:
    return Record(topic, partition, offset, key, value, ts)


@dataclass
class MemoryDestination(Destination):
    """Records every batch it is sent; ``script`` decides each outcome (default: success)."""

    name: str = "memory"
    script: list[Callable[[Batch], Outcome]] = field(default_factory=list)
    sent: list[Batch] = field(default_factory=list)

    def encode(self, batch: Batch) -> Batch:
        return batch

    async def send(self, request: Batch) -> Batch:
        self.sent.append(request)
        return request

    def classify(self, batch: Batch, request: Batch, response: Batch) -> Outcome:
        if self.script:
            return self.script.pop(0)(batch)
        return Successful()

    @property
    def offsets(self) -> list[int]:
        return [r.offset for b in self.sent for r in b.records]


async def no_sleep(_seconds: float) -> None:
    return None


@dataclass(frozen=True, slots=True)
class MemoryConfig(DestinationConfig):
    """A destination the registry was never told about in advance: ``memory: {name: x}``."""

    section_name: ClassVar[str] = "memory"

    name: str
    buffering: BufferingHints = field(default_factory=BufferingHints)
    retry: RetryOptions = field(default_factory=RetryOptions)

    @classmethod
    def from_section(cls, s: Section) -> MemoryConfig:
        config = cls(name=s.string("name"))
        s.done()
        return config

    def build(self, stream: str, settings: Settings) -> DeliveryParts:
        return DeliveryParts(MemoryDestination(name=f"{stream}/{self.name}"))

    async def check(self, settings: Settings) -> None:
        return None
