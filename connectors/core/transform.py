"""What the delivery core asks of a transform (Firehose's record processing before delivery).

The core applies a :class:`Transform` to each batch it cuts and delivers the records it
returns; the records that failed go to the backup, each under its error-output-type.
:class:`connectors.transform.TransformStage` is the implementation (deaggregation, the
processing hook, metadata extraction); the core knows only this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from connectors.core.failures import FailureFormatter
from connectors.core.records import Batch, Record, Rejected

__all__ = ["ActivePartitionCount", "HookTiming", "Transform", "Transformed"]


@dataclass(frozen=True, slots=True)
class HookTiming:
    """One ``process`` call of the hook: seconds taken, and whether every invocation answered
    (in time, in the contract's shape)."""

    seconds: float
    succeeded: bool


@dataclass(frozen=True, slots=True)
class Transformed:
    """What a transform made of one batch: the records to deliver and those that failed."""

    records: tuple[Record, ...]
    failures: tuple[Rejected, ...]
    dropped: int = 0
    hook: HookTiming | None = None
    attempts: tuple[int, ...] = ()  # per failure: hook invocations made (1 for other steps)

    def __post_init__(self) -> None:
        if not self.attempts and self.failures:
            object.__setattr__(self, "attempts", (1,) * len(self.failures))

    def batch(self, source: Batch) -> Batch | None:
        """The records to deliver as a batch cut like ``source`` (None: nothing to deliver)."""
        if not self.records:
            return None
        return Batch.of(self.records, source.arrival_ms, cut=source.cut_range)


class ActivePartitionCount(Protocol):
    """Firehose's active partitions of a delivery with dynamic partitioning."""

    @property
    def exceeded(self) -> int:
        """Records sent to the error output for the active-partition limit so far."""
        ...

    def __len__(self) -> int: ...


class Transform(ABC):
    """Applied to each batch before delivery. The hooks' defaults suit a transform without
    a processing hook and without dynamic partitioning."""

    #: The active partitions the transform holds (None: no dynamic partitioning).
    partitions: ActivePartitionCount | None = None

    @abstractmethod
    async def apply(self, batch: Batch) -> Transformed: ...

    def release(self, transformed: Transformed) -> None:
        """The batch ``transformed`` came from is durable (or dropped): let go what its
        records held."""
        return None

    @property
    def times_processing(self) -> bool:
        """Whether :attr:`Transformed.hook` times the processing; the destinations' encoding
        is then not reported as processing."""
        return False

    def failure_formatter(self, base: FailureFormatter) -> FailureFormatter:
        """How the failure documents of this transform's failures are written."""
        return base
