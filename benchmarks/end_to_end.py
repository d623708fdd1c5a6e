"""Workload 4, end to end with latency: producer → SQL application → MinIO and Elasticsearch.

    .venv/bin/python benchmarks/end_to_end.py                  # 5,000 records/s for 60 s
    .venv/bin/python benchmarks/end_to_end.py --rate 20000 --seconds 60 --json e2e.json
    .venv/bin/python benchmarks/end_to_end.py --smoke          # seconds; checks only, no numbers

A benchmark, not a test: it prints numbers and asserts only that every input id that passes
the filter appears exactly once in MinIO and exactly once in Elasticsearch (under ``_id`` =
ID), and that each Elasticsearch watcher saw every one of them (exit 1 if not).

Processes, all on the local stack, each its own OS process:

* this one produces JSON ticker records at a steady ``--rate`` for ``--seconds``; each carries
  its sequence number ``id`` and ``event_time_ms`` = the wall clock (ms) when it was produced;
* the SQL worker (``sql_tumbling.py --child sql``: the exactly-once runtime) runs two pumps:
  a KDA-style continuous filter/projection (``SELECT STREAM ... WHERE CHANGE >= 0``: one output
  per passing input, so its latency is per record) and a tumbling ``COUNT(*)`` per symbol over
  ``--window-s`` event-time windows;
* one ``shardline deliver`` process with two deliveries of the filter's output topic: MinIO
  (GZIP JSON Lines) and Elasticsearch, both with ``interval_seconds`` = ``--interval-s``
  (Firehose's BufferingHints IntervalInSeconds; ``size_mb`` 5 is never reached here). The
  Elasticsearch delivery names each document by the record's own id (``document_id: field``,
  ``document_id_field: ID``: the output column the input's ``id`` becomes), so ``_id`` =
  ``ID`` and a watcher can ask for a document by id.

Latency of a filtered record = the wall-clock time this process first sees it at the
destination − its event time. Elasticsearch is measured twice, by two watchers polling every
``--poll-ms`` side by side:

* **readable** — the first real-time GET by id (``_mget``; ``realtime`` is ES's default) that
  finds the document: the time the ``_bulk`` request indexed it, whatever the refresh
  interval. Each poll asks for the next not-yet-seen expected ids that were already sent,
  ``MGET_IDS`` at a time from the lowest unseen one, and asks for the next ``MGET_IDS`` as long
  as the last request found some;
* **searchable** — the first ``_search`` (ids above the highest contiguous id already seen)
  that returns it: this includes the index's refresh interval (1 s by default,
  ``--es-refresh-ms`` to change it), since a document is searchable only after a refresh.

The target (p99 <= ``interval_seconds`` + 1 s) is checked against both, and against MinIO. A
poll's ids count as visible at the poll's start. MinIO: a ListObjects poll every
``--poll-ms``; a new object is downloaded and every id in it counts as visible at that
listing. The tumbling pump's latency = the time its result is readable (read_committed) on
its Kafka output topic − the window's end (event time): it includes the allowed lateness
(``AllowedLatenessMs``) the watermark waits for, or the idle timeout (``IdleTimeoutMs``) when
the input stops, plus the commit interval.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from bisect import bisect_right
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ground.kafka_config import KafkaConfig

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: import this checkout, not an installed one
    sys.path.insert(0, str(ROOT))
BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import orjson  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402
from sql_tumbling import proc_cpu_s, proc_hwm_mb  # noqa: E402

__all__ = ["main"]

SYMBOLS = 100
ALLOWED_LATENESS_MS = 1000
IDLE_TIMEOUT_MS = 1000
COMMIT_INTERVAL_MS = 200
MGET_IDS = 5_000  # ids per _mget request of the "readable" watcher
ES_READ = "Elasticsearch (readable, real-time GET)"
ES_SEARCH = "Elasticsearch (searchable, _search)"

APP_SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ID BIGINT, TICKER_SYMBOL VARCHAR(8), PRICE DOUBLE, EVENT_MS BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ID, TICKER_SYMBOL, PRICE, EVENT_MS
FROM "SOURCE_SQL_STREAM_001"
WHERE CHANGE >= 0;

CREATE OR REPLACE STREAM "WINDOW_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(8), WINDOW_START TIMESTAMP, TRADES BIGINT);
CREATE OR REPLACE PUMP "WINDOW_PUMP" AS INSERT INTO "WINDOW_SQL_STREAM"
SELECT STREAM TICKER_SYMBOL, STEP(EVENT_TIME BY INTERVAL '{window_s}' SECOND), COUNT(*)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY TICKER_SYMBOL, STEP(EVENT_TIME BY INTERVAL '{window_s}' SECOND);
"""

APP_YAML = """\
ApplicationName: {name}
ApplicationCode: app.sql
Inputs:
  - NamePrefix: SOURCE_SQL_STREAM
    Topic: {topic}
    StartingPosition: TRIM_HORIZON
    InputSchema:
      RecordFormat:
        RecordFormatType: JSON
      RecordEncoding: UTF-8
      RecordColumns:
        - {{Name: ID, SqlType: BIGINT, Mapping: $.id}}
        - {{Name: TICKER_SYMBOL, SqlType: VARCHAR(8), Mapping: $.ticker_symbol}}
        - {{Name: CHANGE, SqlType: DOUBLE, Mapping: $.change}}
        - {{Name: PRICE, SqlType: DOUBLE, Mapping: $.price}}
        - {{Name: EVENT_MS, SqlType: BIGINT, Mapping: $.event_time_ms}}
        - {{Name: EVENT_TIME, SqlType: TIMESTAMP, Mapping: $.event_time_ms}}
Outputs:
  - Name: DESTINATION_SQL_STREAM
    Topic: {name}-out
    DestinationSchema: {{RecordFormatType: JSON}}
  - Name: WINDOW_SQL_STREAM
    Topic: {name}-windows
    DestinationSchema: {{RecordFormatType: JSON}}
ErrorOutput:
  Topic: {name}-errors
  RecordFormatType: JSON
EventTime:
  AllowedLatenessMs: {lateness}
  IdleTimeoutMs: {idle}
Runtime:
  CommitIntervalMs: {commit}
  BatchMaxRecords: 5000
  ProcessingGuarantee: EXACTLY_ONCE
"""

DELIVER_YAML = """\
deliveries:
  - name: {name}-s3
    topic: {name}-out
    group: {name}-s3
    s3:
      bucket: {bucket}
      prefix: {name}/
      compression: GZIP
      ensure_bucket: true
      buffering: {{size_mb: 5, interval_seconds: {interval}}}
  - name: {name}-es
    topic: {name}-out
    group: {name}-es
    elasticsearch:
      index: {index}
      document_id: field
      document_id_field: ID
      buffering: {{size_mb: 5, interval_seconds: {interval}}}
"""


# -- data ------------------------------------------------------------------------------------


def generate(n: int, seed: int) -> list[tuple[str, float, float]]:
    """``(symbol, change, price)`` per id; the event time is set when the record is sent."""
    rng = random.Random(seed)
    prices = [1000 + rng.randrange(50_000) for _ in range(SYMBOLS)]
    out = []
    for _ in range(n):
        k = rng.randrange(SYMBOLS)
        old = prices[k]
        new = max(100, old + rng.randrange(301) - 150)
        prices[k] = new
        out.append((f"S{k:03d}", (new - old) / 100, new / 100))
    return out


def passes(change: float) -> bool:
    """The pump's ``WHERE CHANGE >= 0``, computed independently."""
    return change >= 0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# -- watchers ----------------------------------------------------------------------------------


def es_call(url: str, method: str, path: str, body: Any = None) -> Any:
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return orjson.loads(resp.read() or b"null")


class Visibility:
    """First-seen wall-clock time (ms) per id at one destination, plus how often seen."""

    def __init__(self, expected: list[int]) -> None:
        self.expected = expected  # sorted ids that pass the filter
        self.first_seen: dict[int, int] = {}
        self.counts: Counter[int] = Counter()
        self._low = 0  # index into expected: all ids before it were seen
        self.poll_ms: list[int] = []  # how long each poll took: the measurement's own lag

    def saw(self, ids: list[int], at_ms: int) -> None:
        for i in ids:
            self.first_seen.setdefault(i, at_ms)

    def low_id(self) -> int:
        """The highest id such that every expected id up to it was seen (-1: none)."""
        while self._low < len(self.expected) and self.expected[self._low] in self.first_seen:
            self._low += 1
        return self.expected[self._low - 1] if self._low else -1

    def unseen(self, start: int, n: int, sent_ms: list[int]) -> tuple[list[int], int]:
        """Up to ``n`` expected ids not seen yet and already sent (``sent_ms[id]`` != 0; ids
        are sent in order), from index ``start`` of ``expected`` on but never below the lowest
        unseen one; and the index to go on from."""
        self.low_id()
        i = max(start, self._low)
        out: list[int] = []
        while i < len(self.expected) and len(out) < n:
            id_ = self.expected[i]
            if not sent_ms[id_]:
                break
            if id_ not in self.first_seen:
                out.append(id_)
            i += 1
        return out, i

    def complete(self, upto: int) -> bool:
        """Every expected id below ``upto`` (the number produced so far) was seen."""
        return bisect_right(self.expected, upto - 1) <= len(self.first_seen)


def watch_es(url: str, index: str, vis: Visibility, stop: threading.Event, poll_s: float) -> None:
    while not stop.is_set():
        t = now_ms()
        after: list[Any] | None = None
        try:
            while True:
                body: dict[str, Any] = {
                    "size": 10_000, "_source": False, "docvalue_fields": ["ID"],
                    "query": {"range": {"ID": {"gt": vis.low_id()}}}, "sort": [{"ID": "asc"}],
                }
                if after is not None:
                    body["search_after"] = after
                hits = es_call(url, "POST", f"/{index}/_search", body)["hits"]["hits"]
                vis.saw([h["fields"]["ID"][0] for h in hits], t)
                if len(hits) < 10_000:
                    break
                after = hits[-1]["sort"]
        except (urllib.error.URLError, OSError):
            pass  # no index yet (404), no ID mapped yet (400), a busy node (503): poll again
        vis.poll_ms.append(now_ms() - t)
        stop.wait(poll_s)


def watch_es_readable(url: str, index: str, vis: Visibility, sent_ms: list[int],
                      stop: threading.Event, poll_s: float) -> None:
    """Readable by id: a real-time ``_mget`` by ``_id`` (= ID) of the ids not seen yet."""
    path = f"/{index}/_mget?_source=false&filter_path=docs._id,docs.found"
    while not stop.is_set():
        t = now_ms()
        start = 0
        try:
            while True:
                ids, start = vis.unseen(start, MGET_IDS, sent_ms)
                if not ids:
                    break
                docs = es_call(url, "POST", path, {"ids": [str(i) for i in ids]})["docs"]
                found = [int(d["_id"]) for d in docs if d.get("found")]
                vis.saw(found, t)
                if not found:  # past what was indexed so far
                    break
        except (urllib.error.URLError, OSError):
            pass  # a busy node (503): poll again (no index yet: every doc is "not found")
        vis.poll_ms.append(now_ms() - t)
        stop.wait(poll_s)


def s3_client(settings: Any) -> Any:
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "s3", endpoint_url=settings.s3_endpoint, region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key.reveal(),
        aws_secret_access_key=settings.s3_secret_key.reveal(),
        config=Config(s3={"addressing_style": "path"}),
    )


def watch_s3(settings: Any, bucket: str, prefix: str, vis: Visibility, stop: threading.Event,
             poll_s: float) -> None:
    client = s3_client(settings)
    seen_keys: set[str] = set()
    try:
        while not stop.is_set():
            t = now_ms()
            try:
                pages = client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix)
                keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
            except Exception:  # no bucket yet, a transient error: list again next poll
                keys = []
            for key in keys:
                if key in seen_keys:
                    continue
                try:
                    obj = client.get_object(Bucket=bucket, Key=key)
                    body = gzip.decompress(obj["Body"].read())
                except Exception:
                    continue  # read it at the next poll
                seen_keys.add(key)
                ids = [orjson.loads(line)["ID"] for line in body.splitlines() if line]
                vis.counts.update(ids)
                vis.saw(ids, t)
            vis.poll_ms.append(now_ms() - t)
            stop.wait(poll_s)
    finally:
        client.close()


def watch_topic(kafka: KafkaConfig, topic: str, got: list[tuple[dict[str, Any], int]],
                stop: threading.Event) -> None:
    """Every committed record of ``topic`` with the wall-clock time (ms) it was read."""
    consumer = Consumer(kafka.client_config({
        "group.id": f"reader-{uuid.uuid4().hex}",
        "isolation.level": "read_committed", "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "fetch.wait.max.ms": 50,
    }))
    consumer.subscribe([topic])
    try:
        while not stop.is_set():
            for m in consumer.consume(1000, 0.05):
                value = m.value()
                if m.error() is None and value is not None:
                    got.append((orjson.loads(value), now_ms()))
    finally:
        consumer.close()


def window_start_ms(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    from datetime import datetime

    text = str(value).replace(" ", "T")
    if not text.endswith("Z") and "+" not in text[10:]:
        text += "+00:00"
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def wait_groups_stable(kafka: KafkaConfig, groups: list[str], timeout_s: float) -> bool:
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(kafka.client_config())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            futures = admin.describe_consumer_groups(groups, request_timeout=5)
            states = [f.result(timeout=10) for f in futures.values()]
            if all(s.state == ConsumerGroupState.STABLE and s.members for s in states):
                return True
        except Exception:
            pass
        time.sleep(0.25)
    return False


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rate", type=int, default=5_000, help="records per second produced")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to produce")
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--interval-s", type=int, default=1,
                    help="the deliveries' buffering interval_seconds (Firehose 0-900)")
    ap.add_argument("--window-s", type=int, default=10, help="the tumbling pump's window")
    ap.add_argument("--poll-ms", type=int, default=200, help="destination poll period")
    ap.add_argument("--drain-s", type=float, default=90.0,
                    help="after producing, wait at most this long for everything to land")
    ap.add_argument("--es-refresh-ms", type=int, default=0,
                    help="create the index first with this refresh_interval (0: ES's 1 s)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--smoke", action="store_true", help="a few seconds; checks only")
    ap.add_argument("--json", help="write the result rows (compare.py's format) here")
    args = ap.parse_args()
    # SIGTERM (e.g. compare.py's timeout) unwinds like Ctrl-C: the finally blocks stop
    # the worker processes this script started instead of orphaning them
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        args.rate, args.seconds = min(args.rate, 500), min(args.seconds, 4.0)

    from ground.kafka import delete_topics_with_prefix, ensure_topics
    from ground.settings import Settings

    settings = Settings.from_env()
    kafka = settings.kafka
    run = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    topic, bucket, index = f"{run}.ticker", "shardline-bench", run
    total = int(args.rate * args.seconds)
    data = generate(total, args.seed)
    expected = [i for i, (_, change, _) in enumerate(data) if passes(change)]

    tmp = Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    (tmp / "app.sql").write_text(APP_SQL.format(window_s=args.window_s))
    (tmp / "application.yaml").write_text(APP_YAML.format(
        name=run, topic=topic, lateness=ALLOWED_LATENESS_MS, idle=IDLE_TIMEOUT_MS,
        commit=COMMIT_INTERVAL_MS))
    (tmp / "deliver.yaml").write_text(DELIVER_YAML.format(
        name=run, bucket=bucket, index=index, interval=args.interval_s))
    ensure_topics(kafka, [topic], args.partitions)
    ensure_topics(kafka, [f"{run}-out", f"{run}-windows", f"{run}-errors"], args.partitions)

    if args.es_refresh_ms:  # what a latency-minded user sets; Firehose leaves it at 1 s
        es_call(settings.search_url, "PUT", f"/{index}", {"settings": {"index": {
            "refresh_interval": f"{args.es_refresh_ms}ms", "number_of_replicas": 0}}})
    procs: dict[str, subprocess.Popen[str]] = {}
    stop = threading.Event()
    threads: list[threading.Thread] = []
    es_vis, s3_vis = Visibility(expected), Visibility(expected)  # es_vis: searchable
    read_vis = Visibility(expected)  # Elasticsearch, readable by a real-time GET
    windows: list[tuple[dict[str, Any], int]] = []
    filtered: list[tuple[dict[str, Any], int]] = []  # the SQL stage alone: its output topic
    sent_ms: list[int] = [0] * total
    try:
        procs["sql"] = subprocess.Popen(
            [sys.executable, str(BENCH / "sql_tumbling.py"), "--child", "sql",
             "--app-dir", str(tmp)], cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
        procs["deliver"] = subprocess.Popen(
            [sys.executable, "-m", "shardline", "deliver", str(tmp / "deliver.yaml"), "-q"],
            cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not wait_groups_stable(kafka, [run, f"{run}-s3", f"{run}-es"], 90):
            raise SystemExit("the workers did not join their consumer groups within 90 s")
        poll_s = args.poll_ms / 1000
        threads = [
            threading.Thread(target=watch_es, args=(settings.search_url, index, es_vis, stop,
                                                    poll_s), daemon=True),
            threading.Thread(target=watch_es_readable, args=(settings.search_url, index,
                                                             read_vis, sent_ms, stop, poll_s),
                             daemon=True),
            threading.Thread(target=watch_s3, args=(settings, bucket, f"{run}/", s3_vis, stop,
                                                    poll_s), daemon=True),
            threading.Thread(target=watch_topic, args=(kafka, f"{run}-windows", windows,
                                                       stop), daemon=True),
            threading.Thread(target=watch_topic, args=(kafka, f"{run}-out", filtered,
                                                       stop), daemon=True),
        ]
        for t in threads:
            t.start()
        cpu0 = {k: proc_cpu_s(p.pid) for k, p in procs.items()}

        # -- produce at a steady rate: event time = wall clock when sent
        producer = Producer(kafka.client_config({"linger.ms": 5,
                             "enable.idempotence": True}))
        t0 = time.monotonic()
        i = 0
        while i < total:
            due = min(total, int((time.monotonic() - t0) * args.rate) + 1)
            while i < due:
                symbol, change, price = data[i]
                ts = now_ms()
                sent_ms[i] = ts
                value = orjson.dumps({"id": i, "ticker_symbol": symbol, "sector": "X",
                                      "change": change, "price": price, "event_time_ms": ts})
                try:
                    producer.produce(topic, value, symbol.encode(),
                                     zlib.crc32(symbol.encode()) % args.partitions, timestamp=ts)
                except BufferError:
                    producer.poll(0.01)
                    continue
                i += 1
            producer.poll(0)
            time.sleep(0.002)
        if producer.flush(60) != 0:
            raise SystemExit("produce: records left undelivered")
        produce_s = time.monotonic() - t0

        # -- wait until everything is visible (each destination) and every window came out
        last_start = window_start_ms_of(sent_ms[-1], args.window_s) if total else 0
        deadline = time.monotonic() + args.drain_s
        while time.monotonic() < deadline:
            if (es_vis.complete(total) and read_vis.complete(total) and s3_vis.complete(total)
                    and any(window_start_ms(w["WINDOW_START"]) == last_start
                            for w, _ in windows[-SYMBOLS * 2:])):
                break
            for name, p in procs.items():
                if p.poll() is not None:
                    raise SystemExit(f"{name} exited early with {p.returncode}")
            time.sleep(0.2)
        time.sleep(1.0)  # a late duplicate would show up now
        cpu = {k: proc_cpu_s(p.pid) - cpu0[k] for k, p in procs.items()}
        rss = {k: proc_hwm_mb(p.pid) for k, p in procs.items()}
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()

    # -- correctness: every passing id exactly once in each destination
    es_docs, es_ids, es_other_ids = read_es_ids(settings.search_url, index)
    es_once = set(es_ids) == set(expected) and es_docs == len(expected) and not es_other_ids
    checks = {
        "MinIO": (set(s3_vis.counts) == set(expected)
                  and all(c == 1 for c in s3_vis.counts.values())),
        # both: every expected id once in the index, each under _id = ID; and the watcher
        # saw every one (else its latencies leave some out)
        ES_READ: es_once and len(read_vis.first_seen) == len(expected),
        ES_SEARCH: es_once and len(es_vis.first_seen) == len(expected),
    }
    # the tumbling pump: one row per (symbol, window), the counts add up to the input
    want: Counter[tuple[str, int]] = Counter()
    for (symbol, _, _), ts in zip(data, sent_ms, strict=True):
        want[(symbol, window_start_ms_of(ts, args.window_s))] += 1
    got: Counter[tuple[str, int]] = Counter()
    for w, _ in windows:
        got[(w["TICKER_SYMBOL"], window_start_ms(w["WINDOW_START"]))] += w["TRADES"]
    rows_per_window = Counter((w["TICKER_SYMBOL"], window_start_ms(w["WINDOW_START"]))
                              for w, _ in windows)
    checks["windows"] = got == want and all(c == 1 for c in rows_per_window.values())

    rate = total / produce_s

    def seen_after(vis: Visibility) -> list[int]:
        """Each expected id's latency at one destination: first seen − sent."""
        return [vis.first_seen[i] - sent_ms[i] for i in expected if i in vis.first_seen]

    lat = {
        "MinIO": seen_after(s3_vis),
        ES_READ: seen_after(read_vis),
        ES_SEARCH: seen_after(es_vis),
        "SQL output (Kafka)": [at - sent_ms[r["ID"]] for r, at in filtered],
        "windows": [at - (window_start_ms(w["WINDOW_START"]) + args.window_s * 1000)
                    for w, at in windows],
    }
    target_ms = args.interval_s * 1000 + 1000
    refresh = f"{args.es_refresh_ms} ms" if args.es_refresh_ms else "1 s (default)"

    def target(dest: str) -> str:
        """``met``/``missed`` for the destinations the target is about, else ``-``."""
        p99 = percentile(lat[dest], 0.99)
        if args.smoke or dest not in ("MinIO", ES_READ, ES_SEARCH) or p99 is None:
            return "-"
        return "met" if p99 <= target_ms else "missed"

    rows = []
    for dest, label in (("MinIO", "e2e → MinIO (GZIP JSONL)"),
                        (ES_READ, f"e2e → {ES_READ}"),
                        (ES_SEARCH, f"e2e → {ES_SEARCH}"),
                        ("windows", f"e2e tumbling {args.window_s}s → Kafka")):
        proc = "sql" if dest == "windows" else "deliver"
        p50, p99 = percentile(lat[dest], 0.50), percentile(lat[dest], 0.99)
        if dest == "windows":
            note = (f"from window end; includes AllowedLatenessMs {ALLOWED_LATENESS_MS}, "
                    f"IdleTimeoutMs {IDLE_TIMEOUT_MS} (last window), CommitIntervalMs "
                    f"{COMMIT_INTERVAL_MS}")
        else:
            how = {
                ES_READ: "first _mget (realtime) by _id = ID; ",
                ES_SEARCH: f"first _search; index refresh_interval {refresh}; ",
            }.get(dest, "")
            verdict = "" if args.smoke else f" ({target(dest)})"
            note = (f"{how}interval_seconds {args.interval_s}, poll {args.poll_ms} ms; "
                    f"target p99 <= {target_ms} ms{verdict}; SQL worker "
                    f"{cpu['sql']:.1f} CPU s / {rss['sql']:.0f} MB; one deliver process for "
                    "MinIO+ES")
        rows.append({
            "workload": label, "system": "shardline", "records": total,
            "records_per_s": None if args.smoke else round(rate),
            "runs": [] if args.smoke else [round(rate)],
            "cpu_s": None if args.smoke else round(cpu[proc], 2),
            "peak_rss_mb": None if args.smoke else round(rss[proc], 1),
            "latency_p50_ms": None if args.smoke else p50,
            "latency_p99_ms": None if args.smoke else p99,
            "note": ("OK" if checks[dest] else "MISMATCH") + "; " + note,
        })

    print(f"data: {total:,} records at {rate:,.0f}/s for {produce_s:.1f} s, {len(expected):,} "
          f"pass the filter, {len(want):,} (symbol, window) results; run {run}")
    print(f"{'destination':40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'target':>7} "
          f"{'check':>9}")
    checks["SQL output (Kafka)"] = sorted(r["ID"] for r, _ in filtered) == expected
    for dest in ("SQL output (Kafka)", "MinIO", ES_READ, ES_SEARCH, "windows"):
        values = lat[dest]
        verdict = "OK" if checks[dest] else "MISMATCH"
        if args.smoke:
            print(f"{dest:40} {'-':>8} {'-':>8} {'-':>8} {'-':>7} {verdict:>9}")
            continue
        p50, p99 = percentile(values, 0.5) or 0, percentile(values, 0.99) or 0
        print(f"{dest:40} {p50:>8.0f} {p99:>8.0f} {max(values, default=0):>8.0f} "
              f"{target(dest):>7} {verdict:>9}")
    if not args.smoke:
        for dest, vis in (("MinIO", s3_vis), (ES_READ, read_vis), (ES_SEARCH, es_vis)):
            print(f"{dest} poll durations: p50 {percentile(vis.poll_ms, 0.5)} ms, "
                  f"p99 {percentile(vis.poll_ms, 0.99)} ms, max {max(vis.poll_ms, default=0)} ms"
                  " (a poll's ids count as visible at its start)")
        for name in procs:
            print(f"process {name}: {cpu[name]:.1f} CPU s, peak RSS {rss[name]:.0f} MB")
        print(f"target: p99 <= interval_seconds {args.interval_s} s + 1 s = {target_ms} ms, "
              f"for MinIO and both Elasticsearch measurements; ES index refresh_interval "
              f"{refresh} (only the searchable one waits for it)")
    print(f"MinIO ids: {sum(s3_vis.counts.values()):,}, ES documents: {es_docs:,} "
          f"({es_other_ids:,} with _id != ID), expected {len(expected):,}; ES ids seen "
          f"readable {len(read_vis.first_seen):,}, searchable {len(es_vis.first_seen):,}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    try:
        es_call(settings.search_url, "DELETE", f"/{index}")
    except Exception:
        pass
    delete_topics_with_prefix(kafka, run)
    if not all(checks.values()):
        print("MISMATCH: " + ", ".join(k for k, v in checks.items() if not v))
        raise SystemExit(1)


def window_start_ms_of(ts: int, window_s: int) -> int:
    return ts - ts % (window_s * 1000)


def read_es_ids(url: str, index: str) -> tuple[int, list[int], int]:
    """(document count, the distinct IDs, how many documents' ``_id`` is not their ID), after
    a refresh: a duplicate raises the count (with ``_id`` = ID, a duplicate record in the
    output topic would overwrite its document instead; the SQL output check catches that)."""
    es_call(url, "POST", f"/{index}/_refresh")
    count = int(es_call(url, "GET", f"/{index}/_count")["count"])
    out: list[int] = []
    other = 0
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"size": 10_000, "_source": False, "docvalue_fields": ["ID"],
                                "sort": [{"ID": "asc"}]}
        if after is not None:
            body["search_after"] = after
        hits = es_call(url, "POST", f"/{index}/_search", body)["hits"]["hits"]
        ids = [h["fields"]["ID"][0] for h in hits]
        out.extend(ids)
        other += sum(h["_id"] != str(i) for h, i in zip(hits, ids, strict=True))
        if len(hits) < 10_000:
            return count, out, other
        after = hits[-1]["sort"]


if __name__ == "__main__":
    main()
