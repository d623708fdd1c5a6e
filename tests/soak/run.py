"""One soak: the whole pipeline under a steady producer and a seeded schedule of faults.

producer → input topic (4 partitions) → the ``tumbling_event_time`` KDA application on two
``shardline run`` workers (a third joins and leaves) → results topic → ``shardline
deliver`` to MinIO (through a fault proxy) and to Elasticsearch (through a fault proxy, with
a failed-document backup in MinIO); a second delivery worker of each joins and leaves. Kafka
(one node, or a 3-node cluster) and MinIO are private servers of the soak; Elasticsearch is
the shared stack's, behind the proxy, in an index of the soak's own.

At the end every fault is healed, the producer stops, the pipeline drains, the workers stop
with SIGTERM, and the oracles of :mod:`tests.soak.oracle` judge everything. The report
(:mod:`tests.soak.report`) has the schedule, the fault counts, the recovery times and every
process's RSS over time with its trend after the warm-up.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaError, KafkaException, Producer

from ground.settings import Settings
from shardline.producer import TICKER_SYMBOLS, partition_for
from tests.integration.fault_proxy import FaultProxy
from tests.integration.fixtures_kafka import _factory
from tests.integration.fixtures_sinks import es_request, s3_client
from tests.integration.offsets import committed_and_end
from tests.integration.sql_apps_support import (
    Dataset,
    committed_count,
    deploy,
    event_time_oracle,
    input_table,
)
from tests.integration.workers import read_all
from tests.soak.chaos import Chaos
from tests.soak.monitor import Progress
from tests.soak.oracle import Verdict, check_all
from tests.soak.schedule import Fault, Targets, plan
from tests.soak.servers import PrivateServers
from tests.soak.supervisor import Supervisor

__all__ = ["Outcome", "SoakOptions", "soak"]

log = logging.getLogger(__name__)

PARTITIONS = 4
ES_RETRY_S = 15  # the ES delivery's retry duration; ES_DOWN outlasts it
SECTORS = {symbol: sector for symbol, sector, _ in TICKER_SYMBOLS}
SAMPLE_EVERY_S = 5.0
#: The application's idle timeout. An idle close mid-run turns the rows of the windows still
#: open into Late_Row errors, and the DuckDB oracle (like the KDA rule it checks) knows only
#: event times: the soak keeps idle closes for the end of the run. It outlasts every quiet
#: spell a fault makes: a worker paused (40 s at most), a broker down and restarted (~100 s),
#: a producer stalled on the loaded machine (the 60-minute run of 2026-12-06 met a 4.5 s one
#: with the tests' 3 s, and two rows of an open window became late).
IDLE_TIMEOUT_MS = 150_000
#: At the drain every fault is healed and the input is all processed: the SQL workers start
#: again with this idle timeout, so the last windows close in seconds, not after 150 s.
DRAIN_IDLE_TIMEOUT_MS = 3_000
DRAIN_TIMEOUT_S = 420


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 5.0
    seed: int = 1
    brokers: int = 1
    rate: float = 25.0  # input records per second
    workdir: Path = Path("/tmp/shardline-soak")
    #: fail on a memory trend (needs a long enough run to mean anything)
    check_memory: bool | None = None  # default: runs of 20 minutes or more

    @property
    def duration_s(self) -> float:
        return self.minutes * 60


@dataclass
class Outcome:
    options: SoakOptions
    schedule: list[Fault]
    chaos: Chaos | None = None
    progress: Progress | None = None
    supervisor: Supervisor | None = None
    verdict: Verdict | None = None
    failure: str | None = None
    produced: int = 0
    produce_failed: int = 0
    drain_s: float = 0.0
    stop_codes: dict[str, int | None] = field(default_factory=dict)
    workdir: Path = Path()
    brokers: list[str] = field(default_factory=list)


class LiveProducer(threading.Thread):
    """Ticker trades at ``rate`` per second until stopped, with timestamps of now: the shape
    of ``test_sql_apps.ticker_records`` (event times up to 3 s behind, 2 % 15-45 s late; 5 %
    of the Kafka timestamps up to 2 s behind), keyed and partitioned as Kinesis does."""

    def __init__(self, bootstrap: str, topic: str, rate: float, seed: int) -> None:
        super().__init__(name="soak-producer", daemon=True)
        self.producer = Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20,
            "message.timeout.ms": 900_000, "delivery.timeout.ms": 900_000, "log_level": 2,
        })  # fmt: skip
        self.topic, self.rate = topic, rate
        self.rng = random.Random(seed)
        self.prices = {symbol: cents for symbol, _, cents in TICKER_SYMBOLS}
        self.stop_event = threading.Event()
        self.sent = self.acked = self.failed = 0

    def _done(self, err: Any, _msg: Any) -> None:
        if err is None:
            self.acked += 1
        else:
            self.failed += 1
            log.error("soak: a record was not acked: %s", err)

    def _record(self) -> tuple[str, bytes, int]:
        rng = self.rng
        now = int(time.time() * 1000)
        symbol = rng.choice(sorted(self.prices))
        old = self.prices[symbol]
        new = self.prices[symbol] = max(100, old + rng.randrange(-150, 151))
        delay = rng.randrange(0, 3_000) if rng.random() > 0.02 else rng.randrange(15_000, 45_000)
        ts = now - (rng.randrange(0, 2_000) if rng.random() < 0.05 else 0)
        value = {"ticker_symbol": symbol, "sector": SECTORS[symbol], "change": (new - old) / 100,
                 "price": new / 100, "event_time": now - delay}
        return symbol, json.dumps(value).encode(), ts

    def run(self) -> None:
        due = time.monotonic()
        while not self.stop_event.is_set():
            key, value, ts = self._record()
            while True:
                try:
                    self.producer.produce(self.topic, value, key.encode(),
                                          partition_for(key, PARTITIONS), timestamp=ts,
                                          on_delivery=self._done)
                    break
                except BufferError:
                    self.producer.poll(0.1)
                except KafkaException as exc:  # a broker restarting: no metadata yet
                    if exc.args[0].code() != KafkaError._UNKNOWN_PARTITION:
                        raise
                    self.producer.poll(0.1)
            self.sent += 1
            due += 1 / self.rate
            self.producer.poll(max(0.0, due - time.monotonic()))
        self.producer.flush(900)


def _delivery_configs(folder: Path, results: str, bucket: str, index: str) -> dict[str, Path]:
    s3 = {"name": "soak-s3", "topic": results, "group": f"{results}-s3", "max_buffered_mb": 8,
          "s3": {"bucket": bucket, "prefix": "results/", "compression": "GZIP",
                 "buffering": {"size_mb": 1, "interval_ms": 2_000}}}
    es = {"name": "soak-es", "topic": results, "group": f"{results}-es", "max_buffered_mb": 8,
          "elasticsearch": {
              "index": index, "document_id": "offset",
              "buffering": {"max_records": 250, "interval_ms": 1_000},
              "retry": {"duration_seconds": ES_RETRY_S, "initial_backoff_ms": 200,
                        "max_backoff_ms": 2_000},
              "s3_backup": {"bucket": bucket, "prefix": "es-failed/"}}}
    out = {}
    for name, config in (("s3", s3), ("es", es)):
        out[name] = folder / f"deliver-{name}.yaml"
        out[name].write_text(yaml.safe_dump(config))
    return out


def _set_idle_timeout(folder: Path) -> None:
    path = folder / "application.yaml"
    config = yaml.safe_load(path.read_text())
    config["EventTime"]["IdleTimeoutMs"] = IDLE_TIMEOUT_MS
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _close_idle_windows_soon(sup: Supervisor) -> None:
    """Start the SQL workers again (a clean stop, then ``--idle-timeout-ms``
    ``DRAIN_IDLE_TIMEOUT_MS``): every row is processed and no fault is left to make a quiet
    spell, so the windows still open close on the short timeout as the idle rule says."""
    for name, role in sup.roles.items():
        if not name.startswith("sql-"):
            continue
        role.argv = [*role.argv, "--idle-timeout-ms", str(DRAIN_IDLE_TIMEOUT_MS)]
        if role.alive():
            sup.signal(name, signal.SIGTERM)  # the supervisor starts it again (``watch``)


def _wait(what: str, check: Any, timeout_s: float, sup: Supervisor) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        sup.watch()
        if time.monotonic() > deadline:
            raise AssertionError(f"drain: no {what} after {timeout_s:.0f}s")
        time.sleep(1)


def _where(exc: BaseException) -> str:
    """``AssertionError at file:line: code`` for an assertion without a message."""
    import traceback

    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__} at {frame.filename}:{frame.lineno}: {frame.line}"


def soak(options: SoakOptions, base: Settings) -> Outcome:
    """Run one soak; the outcome holds everything the report needs (``failure`` if any)."""
    run_id = f"{options.seed}-{uuid.uuid4().hex[:6]}"
    workdir = options.workdir / f"soak-{run_id}"
    (workdir / "logs").mkdir(parents=True)
    home = workdir / "home"
    servers = PrivateServers(base, home, options.brokers)
    targets = Targets(workers=["sql-1", "sql-2", "s3-1", "es-1"],
                      joiners=["sql-3", "s3-2", "es-2"], brokers=servers.brokers,
                      es_retry_s=ES_RETRY_S)
    duration = options.duration_s
    schedule = plan(options.seed, duration, targets, warmup_s=max(30.0, 0.06 * duration),
                    cooldown_s=max(40.0, 0.04 * duration),
                    mean_gap_s=max(20.0, duration / 50))
    outcome = Outcome(options, schedule, workdir=workdir, brokers=servers.brokers)
    sup = Supervisor(home, workdir / "logs", time.monotonic())
    outcome.supervisor = sup
    topics = _factory(servers.settings.kafka, "soak")
    s3_proxy = es_proxy = None
    index = f"soak-{run_id}"
    try:
        servers.up()
        k = servers.settings
        s3_proxy = FaultProxy(k.s3_endpoint).__enter__()
        es_proxy = FaultProxy(base.search_url, fault_paths=r"/_bulk$").__enter__()
        make_topic = next(topics)
        data = Dataset(make_topic(PARTITIONS, prefix="soak-ticker"), PARTITIONS, 0)
        app = deploy("tumbling_event_time", workdir, make_topic, data,
                     runtime={"CommitIntervalMs": 200, "BatchMaxRecords": 200})
        _set_idle_timeout(app.folder)
        results = app.outputs["DESTINATION_SQL_STREAM"]
        bucket = f"soak-{run_id}"
        client = s3_client(k)
        client.create_bucket(Bucket=bucket)
        client.close()
        configs = _delivery_configs(workdir, results, bucket, index)
        env = {"SHARDLINE_KAFKA_BOOTSTRAP": k.kafka_bootstrap,
               "SHARDLINE_S3_ENDPOINT": s3_proxy.url, "SHARDLINE_SEARCH_URL": es_proxy.url}
        for i in (1, 2, 3):
            sup.add(f"sql-{i}", ["shardline", "-v", "run", str(app.folder), "--instance-id",
                                 f"sql-{i}", "--loglevel", "info"], env, wanted=i < 3)
        for dest in ("s3", "es"):
            for i in (1, 2):
                sup.add(f"{dest}-{i}", ["shardline", "-v", "deliver", str(configs[dest]), "-q"],
                        env, wanted=i == 1)
        producer = LiveProducer(k.kafka_bootstrap, data.topic, options.rate, options.seed)
        producer.start()
        progress = Progress(k.kafka_bootstrap, sup, input_topic=data.topic,
                            output_topic=results, partitions=PARTITIONS,
                            groups={"sql": app.name, "s3": f"{results}-s3",
                                    "es": f"{results}-es"})
        outcome.progress = progress
        progress.start()
        chaos = Chaos(schedule, sup, servers, {"s3-proxy": s3_proxy, "es-proxy": es_proxy})
        outcome.chaos = chaos
        chaos.start()
        next_sample = 0.0
        while sup.now() < duration:
            sup.watch()
            if sup.now() >= next_sample:
                sup.sample()
                sup.sample_pids(servers.pids())
                next_sample = sup.now() + SAMPLE_EVERY_S
            time.sleep(0.5)
        chaos.heal_all()
        producer.stop_event.set()
        producer.join(900)
        outcome.produced, outcome.produce_failed = producer.acked, producer.failed

        # drain: the whole input processed, the idle windows closed, every result delivered
        drain_start = time.monotonic()
        ends = committed_and_end(k, app.name, data.topic, PARTITIONS)[1]
        _wait("SQL commit of the whole input",
              lambda: committed_and_end(k, app.name, data.topic, PARTITIONS)[0] == ends,
              DRAIN_TIMEOUT_S, sup)
        _close_idle_windows_soon(sup)
        con = input_table(k.kafka, data.topic)
        expected, late = event_time_oracle(con, window_ms=10_000, lateness_ms=2_000)
        con.close()
        _wait("window results", lambda: committed_count(k.kafka, results)
              >= len(expected) and committed_count(k.kafka, app.errors) >= len(late),
              DRAIN_IDLE_TIMEOUT_MS / 1000 + 180, sup)  # they close on the idle timeout
        last = {p: 0 for p in range(PARTITIONS)}
        for r in read_all(k.kafka, results, committed_only=True):
            last[r.partition] = max(last[r.partition], r.offset + 1)

        def delivered(group: str) -> bool:
            committed = committed_and_end(k, group, results, PARTITIONS)[0]
            return all(committed[p] >= last[p] for p in range(PARTITIONS))

        for dest in ("s3", "es"):
            _wait(f"{dest} delivery of every result", lambda d=dest: delivered(f"{results}-{d}"),
                  DRAIN_TIMEOUT_S, sup)
        outcome.drain_s = round(time.monotonic() - drain_start, 1)
        progress.stop_event.set()
        sup.sample()
        outcome.stop_codes = sup.stop_all()
        app.input = Dataset(data.topic, PARTITIONS, producer.acked)
        outcome.verdict = check_all(k, k, base, app, results, bucket, index)
    except AssertionError as exc:
        log.exception("soak: an oracle failed")
        outcome.failure = str(exc) or _where(exc)
    except Exception as exc:
        log.exception("soak: crashed")
        outcome.failure = f"crashed: {exc!r}"
    finally:
        if outcome.progress is not None:
            outcome.progress.stop_event.set()
        if outcome.chaos is not None and outcome.chaos.is_alive():
            outcome.chaos.heal_all()
        sup.kill_all()
        for proxy in (s3_proxy, es_proxy):
            if proxy is not None:
                proxy.__exit__(None, None, None)
        if outcome.failure is None:
            es_request(base, "DELETE", f"/{index}?ignore_unavailable=true")
        servers.down()
        if outcome.failure is None:  # the servers' data; the logs stay
            shutil.rmtree(home, ignore_errors=True)
    return outcome
