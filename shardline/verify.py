"""Independent checks of what a pipeline and its deliveries produced.

The expected window results are recomputed with DuckDB from the records that actually
landed in the input topic (not from the producer's memory, nor with the pipeline's code),
then compared, record for record, with what the output topic, MinIO and Elasticsearch hold.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
from confluent_kafka import Consumer, KafkaError, TopicPartition

from ground.errors import BrokerUnavailableError, CodecError
from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from schemas import codec_for

__all__ = [
    "TopicRecord",
    "WindowComparison",
    "compare_windows",
    "SqlTickerOracle",
    "expected_sql_ticker_windows",
    "sql_window_rows",
    "read_s3_jsonl",
    "read_search_index",
    "read_topic",
]

WINDOW_KEY = ("ticker_symbol", "window_start_ms")


@dataclass(frozen=True, slots=True)
class TopicRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int


def read_topic(kafka: KafkaConfig, topic: str, timeout_s: float = 60.0) -> list[TopicRecord]:
    """Every committed record of ``topic`` from the beginning to the end offsets read at the
    start (read_committed: records of aborted transactions are skipped, and a partition
    whose log ends with a transaction marker is done at its end-of-partition event)."""
    consumer = Consumer(
        kafka.client_config({
            "group.id": f"shardline-verify-{time.time_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        })
    )
    try:
        md = consumer.list_topics(topic, timeout=10)
        if topic not in md.topics or md.topics[topic].error is not None:
            raise BrokerUnavailableError(f"topic {topic!r} not found on {kafka.bootstrap}")
        parts = sorted(md.topics[topic].partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in parts
        }
        pending = {p for p in parts if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[TopicRecord] = []
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(
                    f"reading {topic!r} timed out; partitions left: {sorted(pending)}"
                )
            for m in consumer.consume(1000, 1.0):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        end = m.offset()
                        if end is not None and end >= ends.get(m.partition() or 0, 0):
                            pending.discard(m.partition())
                    continue
                p, off = m.partition(), m.offset()
                if p is None or off is None:
                    continue
                if off < ends[p]:
                    out.append(TopicRecord(p, off, m.key(), m.value() or b"", m.timestamp()[1]))
                if off + 1 >= ends[p]:
                    pending.discard(p)
        return out
    finally:
        consumer.close()


def _load(
    con: duckdb.DuckDBPyConnection, table: str, columns: str, rows: list[tuple[Any, ...]]
) -> None:
    """``CREATE TABLE table (columns)`` holding ``rows``, through a CSV file (DuckDB's
    ``executemany`` takes about a millisecond per row)."""
    con.execute(f"CREATE TABLE {table} ({columns})")
    if not rows:
        return
    with tempfile.TemporaryDirectory(prefix="shardline-verify-") as tmp:
        path = Path(tmp) / "rows.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
        con.execute(f"COPY {table} FROM '{path}' (FORMAT csv, HEADER false)")


def _window(
    symbol: str, start_ms: int, window_ms: int, count: int, low: Any, high: Any, avg: Any
) -> dict[str, Any]:
    """One window result in :func:`compare_windows`'s form."""
    return {
        "ticker_symbol": symbol,
        "window_start_ms": start_ms,
        "window_end_ms": start_ms + window_ms,
        "count": count,
        "min_price": low,
        "max_price": high,
        "avg_price": avg,
    }


@dataclass(frozen=True, slots=True)
class SqlTickerOracle:
    """What the ticker SQL applications (ticker-analytics, ticker-stats) must produce from a
    topic's records."""

    windows: list[dict[str, Any]]  # in :func:`compare_windows`'s form
    late: int  # rows whose window had closed: error_stream, Late_Row
    malformed: int  # records that are not ticker records: error_stream
    #: (partition, offset) of the late records, in that order
    late_records: list[tuple[int, int]] = field(default_factory=list)


def expected_sql_ticker_windows(
    records: Iterable[TopicRecord], window_ms: int, lateness_ms: int, *, format: str = "avro"
) -> SqlTickerOracle:
    """DuckDB's answer to the ticker applications of ``examples/applications/`` (per ticker
    and event-time window: count, min, max and average price) over the records as they are
    in Kafka.

    A record is late — an error row, not part of any window — when its window ended at or
    before the watermark of its partition: the largest event time of the records before it
    in that partition, minus ``lateness_ms``."""
    codec = codec_for(format, "ticker")
    rows, malformed = [], 0
    for r in records:
        try:
            rec = codec.decode(r.value)
        except CodecError:
            malformed += 1
            continue
        rows.append(
            (r.partition, r.offset, rec["ticker_symbol"], rec["price"], rec["event_time_ms"])
        )
    con = duckdb.connect()
    try:
        _load(con, "t", "part INTEGER, off BIGINT, sym VARCHAR, price DOUBLE, ts BIGINT", rows)
        con.execute(
            """CREATE TABLE judged AS
               SELECT *, ts - ts % $w AS ws,
                      max(ts) OVER (PARTITION BY part ORDER BY off ROWS BETWEEN
                                    UNBOUNDED PRECEDING AND 1 PRECEDING) - $late AS wm
               FROM t""",
            {"w": window_ms, "late": lateness_ms},
        )
        windows = con.execute(
            """SELECT sym, ws, count(*), min(price), max(price), avg(price) FROM judged
               WHERE wm IS NULL OR ws + $w > wm GROUP BY ALL ORDER BY 1, 2""",
            {"w": window_ms},
        ).fetchall()
        late = con.execute(
            "SELECT part, off FROM judged WHERE ws + $w <= wm ORDER BY 1, 2", {"w": window_ms}
        ).fetchall()
    finally:
        con.close()
    return SqlTickerOracle(
        [_window(sym, ws, window_ms, n, lo, hi, avg) for sym, ws, n, lo, hi, avg in windows],
        len(late),
        malformed,
        [(int(part), int(off)) for part, off in late],
    )


def _sql_timestamp_ms(text: str) -> int:
    """``'2026-11-22 20:15:00.000'`` (a SQL TIMESTAMP as the JSON encoder writes it, UTC)."""
    parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def sql_window_rows(rows: Iterable[Mapping[str, Any]], window_ms: int) -> list[dict[str, Any]]:
    """Rows of the ticker-analytics DESTINATION_SQL_STREAM (``TICKER_SYMBOL, WINDOW_START,
    TRADES, MIN_PRICE, MAX_PRICE, AVG_PRICE``) in :func:`compare_windows`'s form."""
    return [
        _window(
            r["TICKER_SYMBOL"],
            _sql_timestamp_ms(r["WINDOW_START"]),
            window_ms,
            r["TRADES"],
            r["MIN_PRICE"],
            r["MAX_PRICE"],
            r["AVG_PRICE"],
        )
        for r in rows
    ]


@dataclass(slots=True)
class WindowComparison:
    expected: int
    actual: int
    matched: int = 0
    duplicates: int = 0
    missing: list[tuple[Any, ...]] = field(default_factory=list)
    unexpected: list[tuple[Any, ...]] = field(default_factory=list)
    different: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.different or self.duplicates)

    def describe(self) -> str:
        if self.ok:
            return f"{self.matched} of {self.expected} windows match"
        parts = [f"{self.matched} of {self.expected} match"]
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {self.missing[0]})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (e.g. {self.unexpected[0]})")
        if self.different:
            parts.append(f"{len(self.different)} differ (e.g. {self.different[0]})")
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicates")
        return ", ".join(parts)


def compare_windows(
    expected: Iterable[Mapping[str, Any]],
    actual: Iterable[Mapping[str, Any]],
    *,
    rel_tol: float = 1e-9,
) -> WindowComparison:
    """Record-for-record comparison; counts, min and max exactly, the average within ``rel_tol``
    (DuckDB may sum in another order)."""
    exp = {tuple(r[k] for k in WINDOW_KEY): dict(r) for r in expected}
    act_list = [dict(r) for r in actual]
    seen = Counter(tuple(r.get(k) for k in WINDOW_KEY) for r in act_list)
    act = {tuple(r.get(k) for k in WINDOW_KEY): r for r in act_list}
    cmp = WindowComparison(expected=len(exp), actual=len(act_list))
    cmp.duplicates = sum(n - 1 for n in seen.values() if n > 1)
    cmp.missing = sorted(exp.keys() - act.keys())
    cmp.unexpected = sorted(act.keys() - exp.keys(), key=str)
    for key in exp.keys() & act.keys():
        e, a = exp[key], act[key]
        same = all(e[f] == a.get(f) for f in ("count", "min_price", "max_price", "window_end_ms"))
        avg = a.get("avg_price")
        same = (
            same
            and isinstance(avg, int | float)
            and math.isclose(e["avg_price"], avg, rel_tol=rel_tol)
        )
        if same:
            cmp.matched += 1
        else:
            cmp.different.append((e, a))
    return cmp


async def read_s3_jsonl(
    settings: Settings, bucket: str, prefix: str
) -> tuple[int, list[dict[str, Any]]]:
    """(number of objects, every JSON line in them) under ``prefix``; the compression format
    is taken from each key's extension (``.gz``, ``.zip``, ``.snappy``, ``.hsnappy``)."""
    from connectors.s3.compression import format_for_key
    from ground.s3 import S3Client

    async with S3Client.from_settings(settings) as client:
        keys = await client.list_keys(bucket, prefix)
        rows: list[dict[str, Any]] = []
        for key in keys:
            resp = await client.get_object(bucket, key)
            if not resp.ok:
                raise BrokerUnavailableError(
                    f"GET s3://{bucket}/{key}: {resp.status} {resp.message}"
                )
            body = format_for_key(key).decompress(resp.body)
            rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return len(keys), rows


async def read_search_index(settings: Settings, index: str) -> list[dict[str, Any]]:
    """Every document (``_source`` plus ``_id``) of ``index``, after a refresh; with the
    settings' authentication and TLS."""
    base = settings.search_url
    auth = settings.search_auth.authenticator()
    docs: list[dict[str, Any]] = []
    connector = aiohttp.TCPConnector(ssl=settings.search_auth.ssl_context())
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                     connector=connector) as http:

        async def post(path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
            data = json.dumps(body).encode() if body is not None else b""
            url = base + path
            headers = await auth.headers("POST", url, data,
                                         {"Content-Type": "application/json"})
            async with http.post(url, data=data, headers=headers) as resp:
                return resp.status, await resp.json(content_type=None)

        status, _ = await post(f"/{index}/_refresh")
        if status == 404:
            return []
        search_after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": 5000,
                "sort": [{"_doc": "asc"}],
                "query": {"match_all": {}},
            }
            if search_after is not None:
                body["search_after"] = search_after
            status, data = await post(f"/{index}/_search", body)
            if status != 200:
                raise BrokerUnavailableError(f"search {index}: {status} {data}")
            hits = data["hits"]["hits"]
            if not hits:
                return docs
            docs.extend({**h["_source"], "_id": h["_id"]} for h in hits)
            search_after = hits[-1]["sort"]
