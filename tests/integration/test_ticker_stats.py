"""The ticker-stats SQL application (examples/applications/ticker_stats) on the real stack,
checked against DuckDB over the same input (the oracle of ``shardline.verify``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ground.kafka import delete_topics_with_prefix
from ground.settings import Settings
from pipelines.error_rows import ErrorRow
from pipelines.sql.application import check_application
from pipelines.sql.decoders import MALFORMED_RECORD, SCHEMA_MISMATCH
from pipelines.sql.operators.base import LATE_ROW
from schemas import codec_for
from shardline.producer import DataSpec, ProduceConfig, produce
from shardline.verify import compare_windows, expected_sql_ticker_windows, read_topic
from tests.integration.offsets import committed_and_end
from tests.timestamps import HOUR_MS, MINUTE_MS, recent_ms

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parents[2] / "examples" / "applications" / "ticker_stats"
WINDOW_MS = 60_000  # app.sql: STEP(EVENT_TIME BY INTERVAL '60' SECOND)
LATENESS_MS = 5_000  # application.yaml: EventTime.AllowedLatenessMs
#: Event times start an hour ago on a minute boundary: every test's data (at most ~15 min of
#: event time) lies in the past, recent enough for the topics' retention.
START_MS = recent_ms(MINUTE_MS, ago_ms=HOUR_MS)

_APP_IDS: list[str] = []


def _deploy(tmp_path: Path, prefix: str, src: str, out: str, err: str) -> Path:
    """The application's configuration with a fresh ApplicationName (its changelog topics
    are deleted when the module is done) and the test's topics; the SQL unchanged."""
    app_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _APP_IDS.append(app_id)
    config = yaml.safe_load((APP / "application.yaml").read_text("utf-8"))
    config["ApplicationName"] = app_id
    config["ApplicationCode"] = str(APP / config["ApplicationCode"])
    config["Inputs"][0]["Topic"] = src
    config["Outputs"][0]["Topic"] = out
    config["ErrorOutput"]["Topic"] = err
    folder = tmp_path / app_id
    folder.mkdir()
    (folder / "application.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    check_application(folder)  # a bad deployment fails here, not in the worker
    return folder


@pytest.fixture(scope="module", autouse=True)
def _delete_app_topics(stack_settings: Settings):
    yield
    for app_id in _APP_IDS:
        delete_topics_with_prefix(stack_settings.kafka, app_id)


def _command(folder: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "shardline", "run", str(folder),
            "--idle-timeout-ms", "1500", *extra]  # fmt: skip


def _run_app(folder: Path, *extra: str) -> str:
    proc = subprocess.run(
        _command(folder, "--until-idle", "2.5", *extra), capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _committed_equals_end(settings: Settings, folder: Path, topic: str, partitions: int) -> None:
    committed, end = committed_and_end(settings, folder.name, topic, partitions)
    for p in range(partitions):
        if end[p] > 0:
            assert committed[p] == end[p], f"partition {p}: committed {committed[p]}, end {end[p]}"


def test_late_and_malformed_records_reach_the_error_topic(
    stack_settings: Settings, topic_factory, tmp_path: Path
) -> None:
    """With disorder beyond the allowed lateness some rows are late. Every record is either
    counted in exactly one window or in the error topic: a malformed one with its original
    bytes, a late one with its row."""
    src, out, err = (
        topic_factory(partitions=2),
        topic_factory(partitions=2),
        topic_factory(partitions=2),
    )
    report = produce(
        stack_settings,
        ProduceConfig(
            topic=src,
            data=DataSpec(
                start_ms=START_MS, seed=5, format="avro", disorder_ms=4_000, mean_step_ms=40,
                malformed=6,
            ),
            count=4_000,
        ),
    )
    assert report.ok
    folder = _deploy(tmp_path, "late", src, out, err)
    _run_app(folder, "--grace-ms", "500")

    inputs = read_topic(stack_settings.kafka, src)
    errors = [json.loads(r.value) for r in read_topic(stack_settings.kafka, err)]
    outputs = [json.loads(r.value) for r in read_topic(stack_settings.kafka, out)]
    oracle = expected_sql_ticker_windows(inputs, WINDOW_MS, 500)

    malformed = [e for e in errors if e["ERROR_NAME"] in (MALFORMED_RECORD, SCHEMA_MISMATCH)]
    late = [e for e in errors if e["ERROR_NAME"] == LATE_ROW]
    assert len(malformed) + len(late) == len(errors), {e["ERROR_NAME"] for e in errors}
    assert sorted(ErrorRow.original_bytes(e) for e in malformed) == sorted(
        r.value for r in report.malformed
    )
    assert len(malformed) == oracle.malformed
    assert late, "a disorder of 4 s with 0.5 s allowed lateness must produce late rows"
    # a late row is the row as the pump saw it (ROWTIME, arrival time, columns): the same
    # records as the oracle's late ones
    ticker = codec_for("avro", "ticker")
    by_position = {(r.partition, r.offset): r for r in inputs}
    want_late = Counter()
    for position in oracle.late_records:
        rec = ticker.decode(by_position[position].value)
        want_late[(position[0], rec["ticker_symbol"], rec["price"], rec["event_time_ms"])] += 1
    got_late = Counter()
    for e in late:
        _rowtime, _arrival, symbol, price, (_, event_ms) = json.loads(ErrorRow.original_bytes(e))
        assert "watermark" in e["MESSAGE"]
        got_late[(e["SOURCE_PARTITION"], symbol, price, event_ms)] += 1
    assert got_late == want_late

    cmp = compare_windows(oracle.windows, outputs)
    assert cmp.ok, cmp.describe()
    assert sum(o["count"] for o in outputs) + len(late) + len(malformed) == len(inputs)
    _committed_equals_end(stack_settings, folder, src, 2)


def test_restart_resumes_without_duplicates(
    stack_settings: Settings, topic_factory, tmp_path: Path
) -> None:
    """Two runs of the same application over one topic, with more data in between: the
    second run resumes from committed offsets and the changelog, emitting each window once."""
    src, out, err = (
        topic_factory(partitions=2),
        topic_factory(partitions=2),
        topic_factory(partitions=2),
    )
    spec = DataSpec(start_ms=START_MS, seed=9, format="avro", mean_step_ms=30, disorder_ms=300)
    first = produce(stack_settings, ProduceConfig(topic=src, data=spec, count=3_000))
    assert first.ok
    folder = _deploy(tmp_path, "restart", src, out, err)
    _run_app(folder)
    n_first = len(read_topic(stack_settings.kafka, out))
    later = DataSpec(
        start_ms=START_MS + 3_000 * 30 + 120_000, seed=10, format="avro", mean_step_ms=30
    )
    assert produce(stack_settings, ProduceConfig(topic=src, data=later, count=2_000)).ok
    time.sleep(0.5)
    _run_app(folder)

    inputs = read_topic(stack_settings.kafka, src)
    outputs = [json.loads(r.value) for r in read_topic(stack_settings.kafka, out)]
    assert len(outputs) > n_first
    oracle = expected_sql_ticker_windows(inputs, WINDOW_MS, LATENESS_MS)
    cmp = compare_windows(oracle.windows, outputs)
    assert cmp.ok, cmp.describe()


def test_missing_input_topic_is_a_clear_error(
    stack_settings: Settings, topic_factory, tmp_path: Path
) -> None:
    missing = f"no-such-topic-{uuid.uuid4().hex[:8]}"
    folder = _deploy(tmp_path, "missing", missing, topic_factory(), topic_factory())
    proc = subprocess.run(_command(folder), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert missing in proc.stderr and "does not exist" in proc.stderr


def test_two_workers_share_partitions_and_results_stay_exact(
    stack_settings: Settings, topic_factory, tmp_path: Path
) -> None:
    """A second worker joins mid-stream (a rebalance while the first is busy): every window
    is still emitted with exactly the records DuckDB counts, and none is missing."""
    src, out, err = (
        topic_factory(partitions=4),
        topic_factory(partitions=4),
        topic_factory(partitions=4),
    )
    spec = DataSpec(start_ms=START_MS, seed=21, format="avro", mean_step_ms=20,
                    disorder_ms=200)  # fmt: skip
    assert produce(stack_settings, ProduceConfig(topic=src, data=spec, count=40_000)).ok
    folder = _deploy(tmp_path, "pair", src, out, err)
    cmd = _command(folder, "--until-idle", "4")
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2.0)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logs = []
    for proc in (first, second):
        output, _ = proc.communicate(timeout=240)
        logs.append(output)
        assert proc.returncode == 0, output[-3000:]

    inputs = read_topic(stack_settings.kafka, src)
    outputs = [json.loads(r.value) for r in read_topic(stack_settings.kafka, out)]
    oracle = expected_sql_ticker_windows(inputs, WINDOW_MS, LATENESS_MS)
    by_key: dict[tuple[str, int], list[dict]] = {}
    for o in outputs:
        by_key.setdefault((o["ticker_symbol"], o["window_start_ms"]), []).append(o)
    # exactly once: no window is emitted twice, none is partial or missing
    twice = {key: copies for key, copies in by_key.items() if len(copies) > 1}
    assert not twice, f"{len(twice)} windows emitted more than once: {list(twice.items())[:3]}"
    cmp = compare_windows(oracle.windows, [copies[0] for copies in by_key.values()])
    assert cmp.ok, cmp.describe() + "\n" + "\n".join(log[-1500:] for log in logs)
    _committed_equals_end(stack_settings, folder, src, 4)
