"""What every pump operator shares: the per-partition context, keyed result rows, errors.

An :class:`Operator` is the running form of one pump in one partition. ``process(rows)``
takes rows of its input stream — tuples whose element 0 is ROWTIME — in stream order and
returns rows for the target stream, also ROWTIME first. Operators with windows also override
``advance`` (ROWTIME or the idle timeout moved time forward: close what is due) and keep their
state in a :class:`StateStore`, whose changes the runtime writes to the changelog in the same
Kafka transaction as the outputs (a :class:`StatefulOperator`). A :class:`TwoInputOperator`
reads a second stream beside the first (a stream-to-stream join).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipelines.sql import state_codec as codec
from pipelines.sql.types import Row, Timestamp

__all__ = [
    "Context",
    "KeyedRow",
    "LATE_ROW",
    "NEVER",
    "Operator",
    "RowFailure",
    "StateStore",
    "StatefulOperator",
    "TwoInputOperator",
    "show_time",
]

#: ``ERROR_NAME`` of a row whose event-time window had already been closed.
LATE_ROW = "Late_Row"
#: "no time yet": below every ROWTIME, watermark and frontier
NEVER = -(2**62)


def show_time(value: Any) -> str:
    """A time for a message: a TIMESTAMP's text, ``-inf`` for :data:`NEVER`."""
    if isinstance(value, Timestamp):
        return value.text()
    if value == NEVER:
        return "-inf"
    return str(value)


class KeyedRow(tuple[Any, ...]):
    """A result row that carries a deterministic record key (window results)."""

    key: bytes

    def __new__(cls, values: Iterable[Any], key: bytes) -> KeyedRow:
        row = super().__new__(cls, values)
        row.key = key
        return row


@dataclass(frozen=True, slots=True)
class RowFailure:
    """A row that failed in a pump: goes to the error stream."""

    pump: str
    name: str
    message: str
    row: Row


@dataclass(slots=True)
class Context:
    """Per-partition facts an operator reads and the failures it reports."""

    application: str
    partition: int
    allowed_lateness_ms: int
    failures: list[RowFailure] = field(default_factory=list)
    #: The partition's current ROWTIME (monotonic). Behind a repartition: the stage's
    #: ROWTIME, the minimum over the upstream partitions (:mod:`pipelines.sql.shuffle`).
    rowtime: int = 0
    #: Behind a repartition, per pump whose partial aggregates it merges: every upstream
    #: partition has closed (and sent) its windows that end at or before this time; per
    #: pump whose rows passed late gates: no row for such a window is still to come.
    frontiers: dict[str, int] = field(default_factory=dict)
    #: During an idle close: the latest ROWTIME up to which an operator closed ROWTIME
    #: windows (their ends). The partition's ROWTIME moves there afterwards, so a row that
    #: comes later is never late for a ROWTIME window (``PartitionEngine.advance``).
    closed_through: int = NEVER

    def fail(self, pump: str, name: str, message: str, row: Row) -> None:
        self.failures.append(RowFailure(pump, name, message, row))

    def close_through(self, rowtime: int) -> None:
        """An idle close emitted ROWTIME results up to ``rowtime``: rows that come later
        must take a ROWTIME of at least that."""
        if rowtime > self.closed_through:
            self.closed_through = int(rowtime)


class StateStore:
    """The changed keys of one operator's state since the last ``take``.

    Operators ``mark`` a key when its state changes and ``delete`` it when it goes away; at
    commit time ``take(snapshot)`` encodes each changed key with ``snapshot(key)`` (the state
    then, however often it changed in between). Keys are tuples of SQL values; ``None`` as an
    encoded value is a changelog tombstone.
    """

    __slots__ = ("_prefix", "_dirty")

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._dirty: dict[Any, bool] = {}

    def mark(self, key: Any) -> None:
        self._dirty[key] = True

    def delete(self, key: Any) -> None:
        self._dirty[key] = False

    def take(
        self,
        snapshot: Callable[[Any], Any],
        encode_key: Callable[[Any], bytes] | None = None,
    ) -> list[tuple[bytes, bytes | None]]:
        """``(codec.dumps([prefix, key]), codec.dumps(snapshot(key)) or None)`` per changed
        key. ``encode_key``, if given, must give ``codec.dumps(key)``'s bytes (faster)."""
        out: list[tuple[bytes, bytes | None]] = []
        append = out.append
        dumps = codec.dumps
        head = b"[" + dumps(self._prefix) + b","  # orjson writes no spaces: same bytes
        key_bytes = encode_key or dumps
        for key, alive in self._dirty.items():
            append((head + key_bytes(key) + b"]", dumps(snapshot(key)) if alive else None))
        self._dirty.clear()
        return out

    def decode_key(self, encoded_key: bytes) -> tuple[bool, Any]:
        """``(True, key)`` if ``encoded_key`` belongs to this store."""
        decoded = codec.loads(encoded_key)
        if isinstance(decoded, tuple) and len(decoded) == 2 and decoded[0] == self._prefix:
            return True, decoded[1]
        return False, None


class Operator(ABC):
    """One pump in one partition. Only :meth:`process` is required; every other hook has a
    default that fits a stateless operator (no store, nothing to close, nothing to restore).

    A stateful operator (:class:`StatefulOperator`) has a ``store`` and implements
    :meth:`snapshot` and :meth:`restore` (the state of one key, as JSON-safe values, and
    back), and where it needs to:
    :meth:`finish_restore` (all keys are back: rebuild what is derived), :meth:`end_epoch`
    (the runtime took this commit's changes) and :meth:`encode_key` (a faster encoding of
    its state keys, with the same bytes as ``codec.dumps``).
    """

    pump: str
    store: StateStore | None = None

    @abstractmethod
    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        """Rows of the input stream in, rows of the target stream out."""

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        """Close what is due; ``idle``: the partition is caught up and quiet, close all.
        An operator whose windows are on ROWTIME reports how far an idle close went with
        :meth:`Context.close_through`."""
        return []

    def settle(self, floor: int, ctx: Context) -> list[Row]:
        """No row with a ROWTIME below ``floor`` will come any more: close what that allows
        (operators whose progress is reported across a repartition)."""
        return []

    def flush(self, ctx: Context) -> list[Row]:
        """The channel in front of a repartition that this operator writes is quiet (no row
        reached it for the idle timeout, :mod:`pipelines.sql.shuffle`): send what it holds
        for the stage behind without closing it (phase one of a two-phase window: the
        partials of its open windows). Nothing for every other operator."""
        return []

    def frontier(self) -> int | None:
        """Phase one of a two-phase window (:mod:`.two_phase`): every window that ends at or
        before this time was closed and emitted; a late gate (:mod:`.late_gate`): every row
        it passes from now on is for a window that ends after it. ``None`` for every other
        operator."""
        return None

    def rowtime_floor(self, floor: int) -> int:
        """The lowest ROWTIME a row this operator emits from now on can have, when no input
        row below ``floor`` will come. Operators that emit at their input rows' ROWTIME keep
        ``floor``; those that hold rows or windows back return the earliest they hold."""
        return floor

    def snapshot(self, key: Any) -> Any:
        """The state under ``key`` (a key this operator marked in its store)."""
        return None

    def restore(self, key: Any, value: Any) -> None:
        """Put back the state that :meth:`snapshot` gave for ``key``."""
        return None

    def finish_restore(self) -> None:
        """Every key of the changelog is back."""
        return None

    def end_epoch(self) -> None:
        """The runtime took the changes of this commit."""
        return None

    def encode_key(self, key: Any) -> bytes:
        """``codec.dumps(key)``: a state key as the changelog's record key."""
        return codec.dumps(key)


class StatefulOperator(Operator):
    """An operator whose state goes to the changelog: it always has a ``store`` (named after
    its pump) and implements :meth:`snapshot` and :meth:`restore`."""

    store: StateStore

    def __init__(self, pump: str) -> None:
        self.pump = pump
        self.store = StateStore(pump)

    @abstractmethod
    def snapshot(self, key: Any) -> Any:
        """The state under ``key``, as JSON-safe values (see :mod:`..state_codec`)."""

    @abstractmethod
    def restore(self, key: Any, value: Any) -> None:
        """Put back the state that :meth:`snapshot` gave for ``key``."""


class TwoInputOperator(Operator):
    """An operator over two streams of the same partition: :meth:`process_pair` gets the new
    rows of both (either may be empty) and ``process`` those of the first alone."""

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        return self.process_pair(rows, [], ctx)

    @abstractmethod
    def process_pair(self, left: list[Row], right: list[Row], ctx: Context) -> list[Row]:
        """New rows of the first (left) and second (right) input in, target rows out."""
