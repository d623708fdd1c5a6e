"""Fake confluent-kafka clients at the runtime's seam: a transactional producer that keeps
committed and aborted transactions apart, a consumer that records seeks and assignments,
and a changelog reader that reads back only what committed transactions wrote; then
smaller stand-ins that log the calls the runtime makes, in order."""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from pipelines.runtime.changelog import latest_values

Produced = tuple[str, bytes | None, bytes | None, int, int]  # topic, key, value, partition, ts


class FakeProducer:
    def __init__(self) -> None:
        self.open: list[Produced] | None = None
        self.offsets: list[tuple[str, int, int]] = []
        self.committed: list[tuple[list[Produced], list[tuple[str, int, int]]]] = []
        self.aborted: list[list[Produced]] = []
        self.fail_next_commit: KafkaError | None = None
        #: errors commit_transaction raises, one per call, AFTER the commit landed on the
        #: broker (a timeout while a broker restarts): the outcome is unknown to the caller
        self.landed_commit_errors: list[KafkaError] = []
        self.committing = False  # a commit landed; librdkafka has not reported it yet
        self.inits = 0
        self.fail_next_produce: BaseException | type[BaseException] | None = None
        self.polls = 0
        self.headers: list[tuple[str, list[tuple[str, bytes]] | None]] = []  # every produce

    def begin_transaction(self) -> None:
        assert self.open is None, "begin inside a transaction"
        self.open, self.offsets = [], []

    def produce(self, topic, value=None, key=None, partition=-1, callback=None,
                on_delivery=None, timestamp=0, headers=None) -> None:  # fmt: skip
        assert self.open is not None, "produce outside a transaction"
        if self.fail_next_produce is not None:
            exc, self.fail_next_produce = self.fail_next_produce, None
            raise exc
        self.open.append((topic, key, value, partition, timestamp))
        self.headers.append((topic, list(headers) if headers is not None else None))

    def send_offsets_to_transaction(
        self, offsets: list[TopicPartition], meta: Any, timeout
    ) -> None:
        assert self.open is not None and meta == "group-metadata"
        self.offsets = [(tp.topic, tp.partition, tp.offset) for tp in offsets]

    def commit_transaction(self, timeout=None) -> None:
        if self.committing:  # a retry of a commit that landed: it reports success at last
            if self.landed_commit_errors:
                raise KafkaException(self.landed_commit_errors.pop(0))
            self.committing = False
            return
        if self.open is None:  # as librdkafka: no transaction to commit
            raise KafkaException(
                KafkaError(KafkaError._STATE, "Operation not valid in state Ready")
            )
        if self.fail_next_commit is not None:
            err, self.fail_next_commit = self.fail_next_commit, None
            raise KafkaException(err)
        self.committed.append((self.open, self.offsets))
        self.open = None
        if self.landed_commit_errors:
            self.committing = True
            raise KafkaException(self.landed_commit_errors.pop(0))

    def init_transactions(self, timeout=None) -> None:
        """A new producer on the same transactional.id: the coordinator completes a commit
        that landed and aborts a transaction left open."""
        self.inits += 1
        self.committing = False
        self.landed_commit_errors = []
        if self.open is not None:
            self.aborted.append(self.open)
            self.open = None

    def purge(self, in_queue=True, in_flight=True, blocking=True) -> None:
        pass

    def abort_transaction(self, timeout=None) -> None:
        if self.committing:  # as librdkafka: a commit under way cannot be aborted
            raise KafkaException(
                KafkaError(KafkaError._STATE, "Operation not valid in state CommittingTransaction")
            )
        assert self.open is not None
        self.aborted.append(self.open)
        self.open = None

    def poll(self, timeout=0) -> int:
        self.polls += 1
        return 0

    def flush(self, timeout=None) -> int:
        return 0

    # -- what a read_committed reader would see
    def committed_records(self, topic: str) -> list[Produced]:
        return [r for recs, _ in self.committed for r in recs if r[0] == topic]

    def committed_offsets(self) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for _, offsets in self.committed:
            for t, p, o in offsets:
                out[(t, p)] = o
        return out


class FakeConsumer:
    def __init__(self, producer: FakeProducer) -> None:
        self.producer = producer
        self.seeks: list[tuple[str, int, int]] = []
        self.assigned: list[tuple[str, int, int]] = []
        self.end_offset = 0
        self.script: list[list[Message]] = []  # what consume() returns, call by call
        self.on_empty: Any = None  # called when the script ran out

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        if self.script:
            return self.script.pop(0)
        if self.on_empty is not None:
            self.on_empty()
        return []

    def consumer_group_metadata(self) -> str:
        return "group-metadata"

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def committed(self, tps: list[TopicPartition], timeout=None) -> list[TopicPartition]:
        offsets = self.producer.committed_offsets()
        return [TopicPartition(tp.topic, tp.partition, offsets.get((tp.topic, tp.partition), -1001))
                for tp in tps]  # fmt: skip

    def get_watermark_offsets(self, tp, timeout=None, cached=False) -> tuple[int, int]:
        return 0, self.end_offset

    def incremental_assign(self, tps: list[TopicPartition]) -> None:
        self.assigned += [(tp.topic, tp.partition, tp.offset) for tp in tps]

    def assign(self, tps: list[TopicPartition]) -> None:
        self.assigned = [(tp.topic, tp.partition, tp.offset) for tp in tps]

    def close(self) -> None:
        pass


class FakeReader:
    """Changelog state as read_committed would see it: committed transactions only."""

    def __init__(self, producer: FakeProducer) -> None:
        self.producer = producer
        self.reads: list[tuple[str, list[int]]] = []

    def read(self, topic: str, partitions) -> dict[int, dict[bytes, bytes]]:
        parts = sorted(partitions)
        self.reads.append((topic, parts))
        recs = self.producer.committed_records(topic)
        return {p: latest_values((k, v) for _, k, v, part, _ in recs if part == p) for p in parts}

    def read_many(self, wanted: dict[str, Any]) -> dict[str, dict[int, dict[bytes, bytes]]]:
        return {topic: self.read(topic, parts) for topic, parts in wanted.items()}

    def close(self) -> None:
        pass


def msg(topic: str, partition: int, offset: int, key: bytes, value: bytes, ts: int = 1) -> Message:
    return Message(topic=topic, partition=partition, offset=offset, key=key, value=value,
                   timestamp=(1, ts))  # fmt: skip


def eof(topic: str, partition: int, offset: int) -> Message:
    return Message(topic=topic, partition=partition, offset=offset,
                   error=KafkaError(KafkaError._PARTITION_EOF))  # fmt: skip


# -- minimal stand-ins that log the calls the runtime makes, in order -------------------


class StubError:
    def __init__(self, code: int) -> None:
        self._code = code

    def code(self) -> int:
        return self._code

    def fatal(self) -> bool:
        return False


class StubMsg:
    """A record of topic ``in`` (key ``k``, value ``v``), or its end-of-partition event."""

    def __init__(self, partition: int, offset: int, *, eof: bool = False) -> None:
        self._p, self._o, self._eof = partition, offset, eof

    def error(self) -> StubError | None:
        return StubError(KafkaError._PARTITION_EOF) if self._eof else None

    def topic(self) -> str:
        return "in"

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_000 + self._o)

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"v"


class StubProducer:
    def begin_transaction(self) -> None:
        pass

    def produce(self, *args: Any) -> None:
        pass


class StubProcessor:
    def process(self, batch: Any) -> list[Any]:
        return []

    def on_idle(self, now_ms: int, idle_ms: int, end_offset: int | None = None) -> list[Any]:
        return []

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        return []

    def restore(self, entries: Any) -> None:
        pass


class LogConsumer:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def committed(self, tps: list[Any], timeout: float) -> list[Any]:
        self.calls.append("committed")
        return [type(tp)(tp.topic, tp.partition, 5) for tp in tps]

    def consumer_group_metadata(self) -> object:
        return object()

    def incremental_assign(self, tps: list[Any]) -> None:
        self.calls.append("assign")


class SeekingConsumer(LogConsumer):
    def seek(self, tp: Any) -> None:
        self.calls.append(f"seek {tp.partition}@{tp.offset}")


class LogProducer(StubProducer):
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def init_transactions(self, timeout: float) -> None:
        pass

    def send_offsets_to_transaction(self, *args: Any) -> None:
        pass

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")


class LogReader:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def read(self, topic: str, partitions: list[int]) -> dict[int, dict[bytes, bytes]]:
        self.calls.append("restore")
        return {p: {} for p in partitions}

    def read_many(self, wanted: dict[str, Any]) -> dict[str, dict[int, dict[bytes, bytes]]]:
        self.calls.append("restore")
        return {topic: {p: {} for p in parts} for topic, parts in wanted.items()}


class FailingProducer(LogProducer):
    """send_offsets_to_transaction fails as during a cooperative rebalance."""

    def send_offsets_to_transaction(self, *args: Any) -> None:
        raise KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION, "generation moved on"))

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")


class StuckProducer(FailingProducer):
    """A producer whose transaction a broker restart broke: abort times out (or is fenced)."""

    def __init__(self, calls: list[str], error: int) -> None:
        super().__init__(calls)
        self.error = error

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")
        fenced = self.error == KafkaError._FENCED
        raise KafkaException(KafkaError(self.error, "stuck", fatal=fenced))

    def purge(self, **_: Any) -> None:
        self.calls.append("purge")


class HangingProducer(LogProducer):
    """librdkafka #5456/#5511: after the coordinator came back, send_offsets_to_transaction
    (and an abort) can block past any timeout. ``release`` lets the stuck threads end."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__(calls)
        self.release = threading.Event()

    def send_offsets_to_transaction(self, *args: Any) -> None:
        self.calls.append("send_offsets (stuck)")
        self.release.wait(30)

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort (stuck)")
        self.release.wait(30)

    def purge(self, **_: Any) -> None:
        self.calls.append("purge")
