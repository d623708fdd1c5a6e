"""The four answers a destination's ``classify`` may give, and the three its ``written`` may.

Whatever an outcome does not name as pending or rejected was delivered. The destination
contract itself is :class:`connectors.core.destination.Destination`.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.core.records import Record, Rejected

__all__ = [
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


#: What a destination's ``async written(batch)`` answers (see :mod:`connectors.core.alignment`).
Probe = Written | NotWritten | NoOutput

