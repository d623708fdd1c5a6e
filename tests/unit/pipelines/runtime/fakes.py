"""Fake confluent-kafka clients at the runtime's seam: a transactional producer that keeps
committed and aborted transactions apart, a consumer that records seeks and assignments,
and a changelog reader that reads back only what committed transactions wrote."""

from __future__ import annotations

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
        assert self.open is not None
        if self.fail_next_commit is not None:
            err, self.fail_next_commit = self.fail_next_commit, None
            raise KafkaException(err)
        self.committed.append((self.open, self.offsets))
        self.open = None

    def abort_transaction(self, timeout=None) -> None:
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

    def close(self) -> None:
        pass


def msg(topic: str, partition: int, offset: int, key: bytes, value: bytes, ts: int = 1) -> Message:
    return Message(topic=topic, partition=partition, offset=offset, key=key, value=value,
                   timestamp=(1, ts))  # fmt: skip


def eof(topic: str, partition: int, offset: int) -> Message:
    return Message(topic=topic, partition=partition, offset=offset,
                   error=KafkaError(KafkaError._PARTITION_EOF))  # fmt: skip
