"""Bad configuration and an unreachable broker fail at start-up with one clear line."""

import os
import subprocess
import sys
from pathlib import Path

PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "ticker_stats"


def _shardline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shardline", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_bad_pipeline_config_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "pipeline.yaml").write_text(
        "app_id: a\ninput_topic: i\noutput_topic: o\nerror_topic: e\nwindow_ms: 0\n"
    )
    proc = _shardline("run", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("shardline: error: window_ms")


def test_bad_setting_names_the_variable() -> None:
    proc = _shardline("run", str(PIPELINE), env={"SHARDLINE_KAFKA_BOOTSTRAP": "nohostport"})
    assert proc.returncode == 2
    assert "SHARDLINE_KAFKA_BOOTSTRAP" in proc.stderr


def test_unreachable_broker_fails_with_one_line() -> None:
    proc = _shardline("run", str(PIPELINE), env={"SHARDLINE_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no Kafka broker answered at 127.0.0.1:1" in lines[0]


def test_bad_firehose_layout_delivery_names_the_firehose_field(tmp_path: Path) -> None:
    (tmp_path / "stream.toml").write_text(
        'DeliveryStreamName = "s"\nDeliveryStreamType = "MSKAsSource"\n'
        '[MSKSourceConfiguration]\nTopicName = "t"\n'
        '[ExtendedS3DestinationConfiguration]\nBucketARN = "arn:aws:s3:::out-bucket"\n'
        '[ExtendedS3DestinationConfiguration.BufferingHints]\nSizeInMBs = 500\n'
    )
    proc = _shardline("deliver", str(tmp_path / "stream.toml"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "shardline: error: ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs:"
        " must be between 1 and 128, got 500")
