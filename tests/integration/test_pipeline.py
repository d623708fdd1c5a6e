"""The ticker pipeline on the real stack, checked against DuckDB over the same input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ground.kafka import delete_topics_with_prefix
from ground.settings import Settings
from pipelines import LATE_RECORD, MALFORMED_RECORD, ErrorRow
from shardline.producer import DataSpec, ProduceConfig, produce
from shardline.verify import compare_windows, expected_ticker_windows, read_topic
from tests.integration.offsets import committed_and_end

pytestmark = pytest.mark.integration

PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "ticker_stats"



_APP_IDS: list[str] = []


def _app_id(prefix: str) -> str:
    """A fresh application id; its topics (Faust's changelogs and internals included) are
    deleted when the module is done."""
    app_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _APP_IDS.append(app_id)
    return app_id


@pytest.fixture(scope="module", autouse=True)
def _delete_app_topics(stack_settings: Settings):
    yield
    for app_id in _APP_IDS:
        delete_topics_with_prefix(stack_settings.kafka, app_id)


def _run_pipeline(app_id: str, src: str, out: str, err: str, *extra: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "shardline", "run", str(PIPELINE), "--app-id", app_id,
         "--input-topic", src, "--output-topic", out, "--error-topic", err,
         "--idle-timeout-ms", "1500", "--until-idle", "2.5", *extra],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _committed_equals_end(settings: Settings, group: str, topic: str, partitions: int) -> None:
    committed, end = committed_and_end(settings, group, topic, partitions)
    for p in range(partitions):
        if end[p] > 0:
            assert committed[p] == end[p], f"partition {p}: committed {committed[p]}, end {end[p]}"


def test_late_and_malformed_records_reach_the_error_topic(
    stack_settings: Settings, topic_factory
) -> None:
    """With disorder beyond the grace period some records are late. Every record is either
    counted in exactly one window or in the error topic, with its original bytes."""
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
                start_ms=1_790_000_000_000, seed=5, disorder_ms=4_000, mean_step_ms=40, malformed=6
            ),
            count=4_000,
        ),
    )
    assert report.ok
    app_id = _app_id("late")
    _run_pipeline(app_id, src, out, err, "--grace-ms", "500")

    inputs = read_topic(stack_settings.kafka, src)
    errors = [json.loads(r.value) for r in read_topic(stack_settings.kafka, err)]
    outputs = [json.loads(r.value) for r in read_topic(stack_settings.kafka, out)]
    index = {(r.partition, r.offset): i for i, r in enumerate(inputs)}

    malformed = [e for e in errors if e["ERROR_NAME"] == MALFORMED_RECORD]
    late = [e for e in errors if e["ERROR_NAME"] == LATE_RECORD]
    assert sorted(ErrorRow.original_bytes(e) for e in malformed) == sorted(
        r.value for r in report.malformed
    )
    assert late, "a disorder of 4 s with 0.5 s grace must produce late records"
    for e in late:
        i = index[(e["SOURCE_PARTITION"], e["SOURCE_OFFSET"])]
        assert ErrorRow.original_bytes(e) == inputs[i].value
        assert "watermark" in e["MESSAGE"]

    late_idx = [index[(e["SOURCE_PARTITION"], e["SOURCE_OFFSET"])] for e in late]
    expected, n_bad = expected_ticker_windows((r.value for r in inputs), 60_000, exclude=late_idx)
    assert n_bad == len(malformed)
    cmp = compare_windows(expected, outputs)
    assert cmp.ok, cmp.describe()
    assert sum(o["count"] for o in outputs) + len(late) + len(malformed) == len(inputs)
    _committed_equals_end(stack_settings, app_id, src, 2)


def test_restart_resumes_without_duplicates(stack_settings: Settings, topic_factory) -> None:
    """Two runs of the same app over one topic, with more data in between: the second run
    resumes from committed offsets and the progress table, emitting each window once."""
    src, out, err = (
        topic_factory(partitions=2),
        topic_factory(partitions=2),
        topic_factory(partitions=2),
    )
    spec = DataSpec(start_ms=1_790_100_000_000, seed=9, mean_step_ms=30, disorder_ms=300)
    first = produce(stack_settings, ProduceConfig(topic=src, data=spec, count=3_000))
    assert first.ok
    app_id = _app_id("restart")
    _run_pipeline(app_id, src, out, err)
    n_first = len(read_topic(stack_settings.kafka, out))
    later = DataSpec(start_ms=1_790_100_000_000 + 3_000 * 30 + 120_000, seed=10, mean_step_ms=30)
    assert produce(stack_settings, ProduceConfig(topic=src, data=later, count=2_000)).ok
    time.sleep(0.5)
    _run_pipeline(app_id, src, out, err)

    inputs = read_topic(stack_settings.kafka, src)
    outputs = [json.loads(r.value) for r in read_topic(stack_settings.kafka, out)]
    assert len(outputs) > n_first
    expected, _ = expected_ticker_windows((r.value for r in inputs), 60_000)
    cmp = compare_windows(expected, outputs)
    assert cmp.ok, cmp.describe()


def test_missing_input_topic_is_a_clear_error(stack_settings: Settings) -> None:
    missing = f"no-such-topic-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [sys.executable, "-m", "shardline", "run", str(PIPELINE), "--input-topic", missing],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert missing in proc.stderr and "does not exist" in proc.stderr


def test_two_workers_share_partitions_and_results_stay_exact(
    stack_settings: Settings, topic_factory
) -> None:
    """A second worker joins mid-stream (a rebalance while the first is busy): every window
    is still emitted with exactly the records DuckDB counts, and none is missing."""
    src, out, err = (
        topic_factory(partitions=4),
        topic_factory(partitions=4),
        topic_factory(partitions=4),
    )
    spec = DataSpec(start_ms=1_790_200_000_000, seed=21, mean_step_ms=20, disorder_ms=200)
    assert produce(stack_settings, ProduceConfig(topic=src, data=spec, count=40_000)).ok
    app_id = _app_id("pair")
    cmd = [
        sys.executable, "-m", "shardline", "run", str(PIPELINE), "--app-id", app_id,
        "--input-topic", src, "--output-topic", out, "--error-topic", err,
        "--idle-timeout-ms", "1500", "--until-idle", "4",
    ]  # fmt: skip
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
    expected, _ = expected_ticker_windows((r.value for r in inputs), 60_000)
    by_key: dict[tuple[str, int], list[dict]] = {}
    for o in outputs:
        by_key.setdefault((o["ticker_symbol"], o["window_start_ms"]), []).append(o)
    # exactly once: no window is emitted twice, none is partial or missing
    twice = {key: copies for key, copies in by_key.items() if len(copies) > 1}
    assert not twice, f"{len(twice)} windows emitted more than once: {list(twice.items())[:3]}"
    cmp = compare_windows(expected, [copies[0] for copies in by_key.values()])
    assert cmp.ok, cmp.describe() + "\n" + "\n".join(log[-1500:] for log in logs)
    _committed_equals_end(stack_settings, app_id, src, 4)
