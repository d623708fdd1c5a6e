"""A toy stateful processor: running count and sum per key, state in the changelog.

Input records: key = any bytes, value = an ASCII integer. For each input record one output
record (same key, same partition number as the input) with the value
``"<partition>,<offset>,<count>,<sum>"`` — the position of the input record that caused
it, and the key's count and sum including that record. A record whose value is not an
integer counts as 0... except ``b"boom"``, which raises (a processor bug, on purpose).

A test helper: the runtime's unit tests drive :class:`CounterProcessor` directly, and the
integration tests kill and restart worker processes (the runtime hosted in a Faust worker,
``shardline.host``), run from the repository root as::

    python -m tests.demo_counter --app-id A --source IN --output OUT
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterable, Sequence

from ground.errors import ShardlineError
from ground.settings import Settings
from pipelines.runtime import OutRecord, RuntimeConfig, SourceRecord
from shardline.host import HostApp, run_host
from shardline.host.sql import SqlService

__all__ = ["CounterProcessor", "main"]

IDLE_KEY = b"__idle__"
_LEVELS = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40, "crit": 50}


class CounterProcessor:
    """Implements :class:`~pipelines.runtime.records.PartitionProcessor`."""

    def __init__(self, partition: int, output_topic: str, delay_ms: int = 0) -> None:
        self.partition = partition
        self.output_topic = output_topic
        self.delay_ms = delay_ms
        self.state: dict[bytes, tuple[int, int]] = {}
        self._dirty: set[bytes] = set()

    def restore(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        for key, value in entries:
            count, total = value.split(b",")
            self.state[key] = (int(count), int(total))

    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        out: list[OutRecord] = []
        state, dirty, topic = self.state, self._dirty, self.output_topic
        for r in batch:
            key = r.key or b""
            if r.value == b"boom":
                raise ValueError(f"boom at offset {r.offset}")
            try:
                amount = int(r.value or b"0")
            except ValueError:
                amount = 0
            count, total = state.get(key, (0, 0))
            count, total = count + 1, total + amount
            state[key] = (count, total)
            dirty.add(key)
            value = f"{r.partition},{r.offset},{count},{total}".encode()
            out.append(OutRecord(topic, key, value, r.timestamp_ms, self.partition))
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        return out

    def on_idle(
        self, now_ms: int, idle_ms: int, end_offset: int | None = None
    ) -> list[OutRecord]:
        value = f"{self.partition},idle,{idle_ms}".encode()
        return [OutRecord(self.output_topic, IDLE_KEY, value, None, self.partition)]

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        changes: list[tuple[bytes, bytes | None]] = [
            (k, f"{self.state[k][0]},{self.state[k][1]}".encode()) for k in self._dirty
        ]
        self._dirty.clear()
        return changes


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.demo_counter")
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--instance-id")
    ap.add_argument("--batch-max-records", type=int, default=5_000)
    ap.add_argument("--commit-interval-ms", type=int, default=200)
    ap.add_argument("--idle-timeout-ms", type=int, default=3_600_000)
    ap.add_argument("--transaction-timeout-ms", type=int, default=30_000)
    ap.add_argument("--session-timeout-ms", type=int, default=10_000)
    ap.add_argument("--assignment", default="cooperative-sticky")
    ap.add_argument("--delay-ms", type=int, default=0, help="sleep per processed batch")
    ap.add_argument("--loglevel", default="warn")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=_LEVELS.get(args.loglevel, logging.WARNING),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    config = RuntimeConfig(
        application_id=args.app_id,
        source_topics=(args.source,),
        output_topics=(args.output,),
        instance_id=args.instance_id,
        batch_max_records=args.batch_max_records,
        commit_interval_ms=args.commit_interval_ms,
        idle_timeout_ms=args.idle_timeout_ms,
        transaction_timeout_ms=args.transaction_timeout_ms,
        session_timeout_ms=args.session_timeout_ms,
        assignment_strategy=args.assignment,
    )
    output, delay = args.output, args.delay_ms
    settings = Settings.from_env()
    host = HostApp(config.application_id, settings)
    service = host.add_service(
        SqlService(config, settings, lambda _topic, p: CounterProcessor(p, output, delay))
    )
    try:
        run_host(host, loglevel=args.loglevel)
        stats = service.result
    except ShardlineError as exc:
        logging.getLogger(__name__).error("worker stopped", exc_info=exc)
        raise SystemExit(f"error: {exc}") from None
    print(f"stopped: {stats}", flush=True)


if __name__ == "__main__":
    main()
