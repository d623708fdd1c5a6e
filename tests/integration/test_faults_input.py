"""Fault suite, bad input (issue 5): a delivery or SQL application with a bad config or
missing credentials fails at start against the real stack, and nothing was started: no
consumer group joined, no topic created, no bucket created.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from confluent_kafka.admin import AdminClient

from shardline.settings import Settings
from tests.integration.fixtures_sinks import s3_client

ROOT = Path(__file__).resolve().parents[2]
SQL_APP = ROOT / "tests" / "integration" / "sql_apps" / "tumbling_event_time"


def _shardline(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "shardline", *args], capture_output=True, text=True,
        timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    return proc.returncode, proc.stderr, time.monotonic() - start


def _nothing_exists(settings: Settings, *, group: str, topics: list[str],
                    bucket: str | None) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    groups = admin.list_consumer_groups(request_timeout=10).result(timeout=15)
    assert not [g.group_id for g in groups.valid if g.group_id.startswith(group)]
    existing = set(admin.list_topics(timeout=10).topics)
    assert not [t for t in existing if any(t.startswith(name) for name in topics)]
    if bucket is not None:
        client = s3_client(settings)
        with pytest.raises(ClientError) as err:
            client.head_bucket(Bucket=bucket)
        assert err.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
        client.close()


@pytest.mark.parametrize(("extra", "env", "field"), [
    ("  buffering: {size_mb: 5, interval_seconds: 5000}\n", {},
     "s3.buffering.interval_seconds"),
    ("", {"SHARDLINE_S3_ACCESS_KEY": ""}, "SHARDLINE_S3_ACCESS_KEY"),
    ("  bogus: 1\n", {}, "s3.bogus"),
], ids=["out-of-range-hint", "missing-access-key", "unknown-field"])
def test_bad_delivery_starts_nothing(
    stack_settings: Settings, tmp_path: Path, extra: str, env: dict[str, str], field: str
) -> None:
    tag = uuid.uuid4().hex[:10]
    topic, group, bucket = f"badcfg-{tag}", f"badcfg-group-{tag}", f"badcfg-{tag}"
    file = tmp_path / "d.yaml"
    file.write_text(f"name: badcfg-{tag}\ntopic: {topic}\ngroup: {group}\n"
                    f"s3:\n  bucket: {bucket}\n  ensure_bucket: true\n{extra}")
    code, stderr, seconds = _shardline("deliver", str(file), env=env)
    print(f"bad delivery ({field}): exit {code} in {seconds:.2f} s: {stderr.strip()}")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"shardline: error: {field}"), stderr
    _nothing_exists(stack_settings, group=group, topics=[topic], bucket=bucket)


def test_bad_sql_application_starts_nothing(stack_settings: Settings, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    name = f"badcfg-app-{tag}"
    topics = [f"badcfg-in-{tag}", f"badcfg-out-{tag}", f"badcfg-err-{tag}"]
    text = (SQL_APP / "application.yaml").read_text()
    for old, new in [("it-sql-tumbling-event-time", name), ("Topic: ticker", f"Topic: {topics[0]}"),
                     ("tumbling-event-time-destination-sql-stream", topics[1]),
                     ("tumbling-event-time-errors", topics[2]),
                     ("BatchMaxRecords: 500", "BatchMaxRecords: 0")]:
        assert old in text
        text = text.replace(old, new)
    app = tmp_path / "app"
    app.mkdir()
    (app / "application.yaml").write_text(text)
    (app / "app.sql").write_text((SQL_APP / "app.sql").read_text())
    code, stderr, seconds = _shardline("run", str(app))
    print(f"bad SQL application: exit {code} in {seconds:.2f} s: {stderr.strip()}")
    assert code == 2
    assert stderr.strip().splitlines() == [
        "shardline: error: Runtime.BatchMaxRecords: must be at least 1, got 0"]
    _nothing_exists(stack_settings, group=name, topics=topics, bucket=None)
