"""The destination contract and the four answers ``classify`` may give.

A destination is three calls: ``encode(batch) -> request``, ``await send(request) -> response``,
``classify(batch, request, response) -> Outcome``. Transport errors (timeouts, refused
connections) are *responses* too, so every retry decision lives in ``classify``.

Whatever an outcome does not name as pending or rejected was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from connectors.core.records import Batch, Record, Rejected

__all__ = [
    "Destination",
    "DontRetry",
    "NoOutput",
    "NotWritten",
    "Outcome",
    "Probe",
    "Retry",
    "RetryPartial",
    "Successful",
    "Written",
]


@dataclass(frozen=True, slots=True)
class Successful:
    """Every record of the batch was written."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Nothing was (reliably) written; send the whole batch again."""

    reason: str


@dataclass(frozen=True, slots=True)
class RetryPartial:
    """Only ``records`` failed transiently; ``rejected`` failed for good; the rest was written."""

    records: tuple[Record, ...]
    reason: str
    rejected: tuple[Rejected, ...] = ()


@dataclass(frozen=True, slots=True)
class DontRetry:
    """``rejected`` will never be written (the rest of the batch, if any, was written)."""

    rejected: tuple[Rejected, ...]
    reason: str


Outcome = Successful | Retry | RetryPartial | DontRetry


@dataclass(frozen=True, slots=True)
class Written:
    """A previous owner already wrote this batch's output, cut as ``start..end`` offsets."""

    start_offset: int
    end_offset: int


@dataclass(frozen=True, slots=True)
class NotWritten:
    """Nothing of this batch's output exists yet."""


@dataclass(frozen=True, slots=True)
class NoOutput:
    """The batch makes no output (nothing to look for), so the probe tells nothing."""


#: What a destination's optional ``async written(batch)`` answers (see DeliveryCore).
Probe = Written | NotWritten | NoOutput


@runtime_checkable
class Destination(Protocol):
    """What a destination implements. ``name`` appears in logs, metrics and errors."""

    name: str

    def encode(self, batch: Batch) -> Any: ...

    async def send(self, request: Any) -> Any: ...

    def classify(self, batch: Batch, request: Any, response: Any) -> Outcome: ...
