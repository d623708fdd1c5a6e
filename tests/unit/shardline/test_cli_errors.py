"""Bad configuration and an unreachable broker fail at start-up with one clear line."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PIPELINE = ROOT / "examples" / "applications" / "ticker_stats"


def _shardline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shardline", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_a_folder_without_an_application_is_a_clear_error(tmp_path: Path) -> None:
    proc = _shardline("run", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"shardline: error: {tmp_path}: no application.yaml or application.yml or "
        "application.json in this folder")


def test_bad_setting_names_the_variable() -> None:
    proc = _shardline("run", str(PIPELINE), env={"SHARDLINE_KAFKA_BOOTSTRAP": "nohostport"})
    assert proc.returncode == 2
    assert "SHARDLINE_KAFKA_BOOTSTRAP" in proc.stderr


def test_unreachable_broker_fails_with_one_line() -> None:
    """Without a start-up wait: at once. (A broker that is down is waited for, the start-up
    wait long: ``SHARDLINE_STARTUP_WAIT_MS``, below.)"""
    proc = _shardline("run", str(PIPELINE), env={"SHARDLINE_KAFKA_BOOTSTRAP": "127.0.0.1:1",
                                                 "SHARDLINE_STARTUP_WAIT_MS": "0"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no Kafka broker answered at 127.0.0.1:1" in lines[0]


def test_an_unreachable_broker_is_waited_for_with_one_line_per_attempt() -> None:
    started = time.monotonic()
    proc = _shardline("run", str(PIPELINE), env={"SHARDLINE_KAFKA_BOOTSTRAP": "127.0.0.1:1",
                                                 "SHARDLINE_STARTUP_WAIT_MS": "15000"})
    assert time.monotonic() - started >= 15
    assert proc.returncode == 2
    *waits, last = proc.stderr.strip().splitlines()
    assert "no Kafka broker answered at 127.0.0.1:1" in last
    assert waits and all("WARNING ground.startup: waiting for Kafka at 127.0.0.1:1 (attempt "
                         in line for line in waits), proc.stderr
    assert [int(line.split("(attempt ")[1].split(":")[0]) for line in waits] == list(
        range(1, len(waits) + 1))


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


# --- issue 5, "bad configs": every case fails before anything starts, with one line -------

EXAMPLES = ROOT / "examples" / "deliveries"
SQL_APP = ROOT / "tests" / "integration" / "sql_apps" / "tumbling_event_time"

_SHARDLINE_DELIVERY = (
    "name: d\ntopic: t\ns3:\n  bucket: shardline\n"
    "  buffering: {size_mb: 5, interval_seconds: 60}\n")


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """In-process ``shardline ARGS``: the exit code and the lines of stderr."""
    from click.testing import CliRunner

    from shardline.cli import main

    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stderr.strip().splitlines()


def _one_error_line(lines: list[str], expected: str) -> None:
    errors = [line for line in lines if line.startswith("shardline: error:")]
    assert errors == [f"shardline: error: {expected}"], lines
    assert not any("Traceback" in line for line in lines), lines


@pytest.mark.parametrize(("change", "expected"), [
    (("size_mb: 5", 'size_mb: "x"'), "s3.buffering.size_mb: expected an integer, got 'x'"),
    (("interval_seconds: 60", "interval_seconds: 5000"),
     "s3.buffering.interval_seconds: must be between 0 and 900, got 5000"),
    (("size_mb: 5", "size_mb: 0"), "s3.buffering.size_mb: must be between 1 and 128, got 0"),
    (("topic: t\n", "topic: t\nbogus: 1\n"), "bogus: unknown setting"),
    (("bucket: shardline", "bucket: [1]"), "s3.bucket: expected a string, got [1]"),
])
def test_bad_shardline_delivery_fails_at_start(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    file = tmp_path / "d.yaml"
    file.write_text(_SHARDLINE_DELIVERY.replace(*change))
    code, lines = _cli("deliver", str(file))
    assert code == 2
    _one_error_line(lines, expected)


_FH = "ExtendedS3DestinationConfiguration"


@pytest.mark.parametrize(("change", "expected"), [
    (("IntervalInSeconds: 60", "IntervalInSeconds: sixty"),
     f"{_FH}.BufferingHints.IntervalInSeconds: expected an integer, got 'sixty'"),
    (("IntervalInSeconds: 60", "IntervalInSeconds: 1000"),
     f"{_FH}.BufferingHints.IntervalInSeconds: must be between 0 and 900, got 1000"),
    (("CompressionFormat: GZIP", "CompressionFormat: GZIP\n  Bogus: 1"),
     f"{_FH}.Bogus: unknown setting"),
    (("CompressionFormat: GZIP", "CompressionFormat: 5"),
     f"{_FH}.CompressionFormat: expected a string, got 5"),
    (("EnsureBuckets: true", "EnsureBuckets: maybe"),
     "Shardline.EnsureBuckets: expected true or false, got 'maybe'"),
    (("  TopicName: ticker-stats", "  TopicName: [1]"),
     "MSKSourceConfiguration.TopicName: expected a string, got [1]"),
])
def test_bad_firehose_layout_delivery_fails_at_start(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = (EXAMPLES / "firehose" / "ticker-stats-s3.yaml").read_text()
    assert change[0] in text
    file = tmp_path / "fh.yaml"
    file.write_text(text.replace(*change))
    code, lines = _cli("deliver", str(file))
    assert code == 2
    _one_error_line(lines, expected)


@pytest.mark.parametrize(("env", "expected"), [
    ({"SHARDLINE_S3_ACCESS_KEY": ""}, "SHARDLINE_S3_ACCESS_KEY: must not be empty"),
    ({"SHARDLINE_S3_SECRET_KEY": ""}, "SHARDLINE_S3_SECRET_KEY: must be at least 8 characters"),
])
def test_missing_s3_credentials_fail_at_start(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    file = tmp_path / "d.yaml"
    file.write_text(_SHARDLINE_DELIVERY)
    code, lines = _cli("deliver", str(file), env=env)
    assert code == 2
    _one_error_line(lines, expected)


@pytest.mark.parametrize(("change", "expected"), [
    (("BatchMaxRecords: 500", "BatchMaxRecords: lots"),
     "Runtime.BatchMaxRecords: expected an integer, got 'lots'"),
    (("BatchMaxRecords: 500", "BatchMaxRecords: 0"),
     "Runtime.BatchMaxRecords: must be at least 1, got 0"),
    (("IdleTimeoutMs: 3000", "IdleTimeoutMs: 3000, Bogus: 1"),
     "EventTime.Bogus: unknown setting; known: AllowedLatenessMs, IdleTimeoutMs"),
    (("SqlType: REAL, Mapping: $.price", "SqlType: 7, Mapping: $.price"),
     "Inputs[0].InputSchema.RecordColumns[3].SqlType: expected a string, got int"),
    (("{RecordFormatType: JSON}\n", "{RecordFormatType: XML}\n"),
     "Inputs[0].InputSchema.RecordFormat.RecordFormatType: one of JSON | CSV | AVRO, got 'XML'"),
])
def test_bad_sql_application_fails_at_start(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    text = (SQL_APP / "application.yaml").read_text()
    assert change[0] in text
    (app / "application.yaml").write_text(text.replace(*change, 1))
    (app / "app.sql").write_text((SQL_APP / "app.sql").read_text())
    code, lines = _cli("run", str(app))
    assert code == 2
    _one_error_line(lines, expected)


@pytest.mark.parametrize("target", ["folder", "application.yaml", "app.sql"])
def test_sql_check_reports_positions_in_the_sql_file(tmp_path: Path, target: str) -> None:
    """An error in the code is ``<the code file>:LINE:COL``, whichever path was given; an
    error of the configuration (no line) names the configuration file."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "application.yaml").write_text((SQL_APP / "application.yaml").read_text())
    code_text = (SQL_APP / "app.sql").read_text()
    assert "COUNT(*), SUM(price)" in code_text
    (app / "app.sql").write_text(code_text.replace("COUNT(*), SUM(price)", "COUNT(*), SUM(nope)"))
    line = next(i for i, text in enumerate(code_text.splitlines(), 1) if "SUM(price)" in text)
    column = code_text.splitlines()[line - 1].index("price") + 1
    paths = {"folder": app, "application.yaml": app / "application.yaml"}
    path = paths.get(target, app / "app.sql")
    code, lines = _cli("sql", "check", str(path))
    assert code == 1
    where, _, message = lines[-1].partition(": ")
    file, at_line, at_column = where.rsplit(":", 2)
    assert Path(file).resolve() == (app / "app.sql").resolve()
    assert (int(at_line), int(at_column)) == (line, column)
    assert message.startswith("unknown column")


def test_sql_check_reports_configuration_errors_at_the_configuration(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    text = (SQL_APP / "application.yaml").read_text()
    text = text.replace("Name: DESTINATION_SQL_STREAM", "Name: NOPE")
    (app / "application.yaml").write_text(text)
    (app / "app.sql").write_text((SQL_APP / "app.sql").read_text())
    code, lines = _cli("sql", "check", str(app))
    assert code == 1
    assert lines[-1] == (
        f"{app / 'application.yaml'}: Outputs: stream NOPE is not created by the application code")


@pytest.mark.parametrize(("args", "flag"), [
    (("run", str(SQL_APP), "--web-port", "70000"), "--web-port"),
    (("deliver", "--topic", "t", "--s3-bucket", "b", "--metrics-port", "-1"), "--metrics-port"),
])
def test_a_bad_web_port_fails_at_start(args: tuple[str, ...], flag: str) -> None:
    code, lines = _cli(*args)
    assert code == 2
    _one_error_line(lines, f"{flag}: give a TCP port, or 0 for no web server")
