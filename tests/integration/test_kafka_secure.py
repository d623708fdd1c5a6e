"""Kafka over SCRAM-SHA-512 and TLS: a private Kafka of the local stack started secured
(``stack up --secure``: a SASL_SSL listener, a local CA, a SCRAM user), on ports of its own
under a temporary home (``secure_kafka``, started once per session); the shared stack's MinIO
and Elasticsearch.

* The demo end to end — the producer, the ticker-analytics KDA SQL application, delivery to
  MinIO and Elasticsearch — with every Kafka client configured only by
  ``SHARDLINE_KAFKA_BOOTSTRAP`` and ``SHARDLINE_KAFKA_CONFIG_FILE`` (the stack's
  ``client.properties``); the results equal DuckDB's, as in the plain demo test.
* A wrong password: every command exits 2 with one line naming Kafka and the setting,
  nothing is produced or committed. An untrusted CA: the same, naming the CA setting.
* Every output and log of these runs (the commands at -vv with librdkafka's security debug,
  the broker's own log) is searched for the passwords used: none is there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from rich.console import Console

from ground.errors import KafkaSecurityError
from ground.kafka import delete_topics_with_prefix, ensure_topics, wait_for_broker
from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from shardline import demo
from shardline.demo import DemoConfig, deploy_application, run_demo
from shardline.stack.kafka_secure import make_ca
from shardline.verify import read_topic
from tests.integration.fixtures_secure_kafka import SecureKafka
from tests.integration.offsets import committed_and_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
WRONG_PASSWORD = f"wrong-{uuid.uuid4().hex}"


def shardline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shardline", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("shardline: error:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


# Everything these tests captured, searched for the passwords at the end of the module.
CAPTURED: list[str] = []


class _RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
    """Popen that keeps what the process printed."""

    def communicate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out, err = super().communicate(*args, **kwargs)
        CAPTURED.extend(x for x in (out, err) if isinstance(x, str))
        return out, err


def test_the_secured_listener_refuses_plaintext_and_takes_the_client_file(
    secure_kafka: SecureKafka
) -> None:
    settings = Settings.from_env(secure_kafka.env)
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert settings.kafka.client_config() == secure_kafka.settings.kafka.client_config()
    assert wait_for_broker(settings.kafka, timeout_s=20).brokers
    # the secured port speaks TLS only: a plaintext client gets no metadata
    with pytest.raises(Exception) as info:
        wait_for_broker(KafkaConfig(settings.kafka.bootstrap), timeout_s=3)
    assert "SHARDLINE_KAFKA_SECURITY_PROTOCOL (now PLAINTEXT)" in str(info.value)


def test_demo_over_scram_and_tls_matches_duckdb(
    secure_kafka: SecureKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo's workers are `shardline` processes that inherit this environment; they log
    # at -v, and what they print is kept for the password search.
    for name, value in secure_kafka.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(demo, "_shardline", lambda *args: [sys.executable, "-m", "shardline",
                                                           "-v", *args])
    monkeypatch.setattr(demo.subprocess, "Popen", _RecordingPopen)
    settings = Settings.from_env()
    assert settings.kafka == secure_kafka.settings.kafka
    run_id = f"it-secure-{uuid.uuid4().hex[:8]}"
    console = Console(record=True, width=160, file=open(os.devnull, "w"))  # noqa: SIM115
    partitions, malformed = 3, 3
    try:
        result = run_demo(settings, DemoConfig(records=3_000, partitions=partitions, seed=23,
                                               malformed=malformed, run_id=run_id,
                                               start_stack=False), console)
        CAPTURED.append(console.export_text())
        assert result.windows_expected > 10
        for name, cmp in result.checks.items():
            assert cmp.ok, f"{name}: {cmp.describe()}"
            assert cmp.matched == result.windows_expected
        assert result.s3_objects >= 1 and result.search_docs == result.windows_expected
        assert result.error_records == malformed + result.late_expected
        assert result.ok
        committed, end = committed_and_end(settings, f"{run_id}.ticker-analytics",
                                           f"{run_id}.ticker", partitions)
        assert committed == end and sum(end.values()) == 3_000
    finally:
        delete_topics_with_prefix(settings.kafka, run_id)


def test_a_wrong_password_names_kafka_and_the_setting_and_commits_nothing(
    secure_kafka: SecureKafka, tmp_path: Path
) -> None:
    good = secure_kafka.settings
    run = f"it-badpw-{uuid.uuid4().hex[:8]}"
    source = f"{run}.ticker"
    ensure_topics(good.kafka, [source, f"{run}.out", f"{run}.errors"], 2)
    produced = shardline("produce", "--topic", source, "--count", "200", "--no-progress",
                         env=secure_kafka.env)
    assert produced.returncode == 0, produced.stderr[-2000:]
    CAPTURED.extend((produced.stdout, produced.stderr))
    bad = {**secure_kafka.env, "SHARDLINE_KAFKA_SASL_PASSWORD": WRONG_PASSWORD,
           "SHARDLINE_HOME": str(tmp_path / "home")}
    app = deploy_application(replace(good, home=tmp_path / "home"), run)  # reads {run}.ticker
    try:
        commands = {
            "produce": ["produce", "--topic", f"{run}.new", "--count", "10", "--no-progress"],
            "run": ["run", str(app.folder), "--until-idle", "3"],
            "deliver": ["deliver", "--topic", source, "--group", f"{run}-s3",
                        "--s3-bucket", "shardline-demo", "--ensure-bucket", "--until-idle", "3"],
            "status": ["status", "--group", f"{run}-s3"],
        }
        for name, args in commands.items():
            proc = shardline("-v", *args, env=bad)
            CAPTURED.extend((proc.stdout, proc.stderr))
            line = one_line_error(proc)
            assert "Kafka at " + good.kafka.bootstrap in line, (name, line)
            assert "refused the SCRAM-SHA-512 credentials" in line, (name, line)
            assert "SHARDLINE_KAFKA_SASL_PASSWORD" in line, (name, line)
            assert str(secure_kafka.files.client_properties) in line  # where the user is set
        # nothing produced, nothing consumed or committed
        topics = wait_for_broker(good.kafka).topics
        assert f"{run}.new" not in topics
        for group in (f"{run}-s3", app.application):
            committed, end = committed_and_end(good, group, source, 2)
            assert all(offset < 0 for offset in committed.values()), (group, committed)
        assert sum(end.values()) == 200
        for topic in (app.output_topic, app.error_topic):
            assert topic not in topics or read_topic(good.kafka, topic) == []
    finally:
        delete_topics_with_prefix(good.kafka, run)


def test_an_untrusted_certificate_names_the_ca_setting(
    secure_kafka: SecureKafka, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(make_ca("not the broker's CA")[1].public_bytes(serialization.Encoding.PEM))
    env = {**secure_kafka.env, "SHARDLINE_KAFKA_SSL_CA_LOCATION": str(other)}
    proc = shardline("produce", "--topic", f"it-untrusted-{uuid.uuid4().hex[:8]}",
                     "--count", "1", "--no-progress", env=env)
    CAPTURED.extend((proc.stdout, proc.stderr))
    line = one_line_error(proc)
    assert "Kafka at " in line and "TLS certificate is not trusted" in line, line
    assert "certificate verify failed" in line
    assert f"set SHARDLINE_KAFKA_SSL_CA_LOCATION to the CA certificate that signed it " \
           f"(now {other})" in line
    with pytest.raises(KafkaSecurityError):
        wait_for_broker(Settings.from_env(env).kafka, timeout_s=10)


def test_no_password_in_any_output_or_log(secure_kafka: SecureKafka, tmp_path: Path) -> None:
    # a verbose run with librdkafka's own security debug output, for good measure
    env = {**secure_kafka.env, "SHARDLINE_KAFKA_DEBUG": "security,broker,protocol"}
    proc = shardline("-vv", "produce", "--topic", f"it-debug-{uuid.uuid4().hex[:8]}",
                     "--count", "50", "--partitions", "1", "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "SASL" in proc.stderr  # the debug output is really there
    status = shardline("-vv", "status", "--no-partitions", env=secure_kafka.env)
    assert "sasl.password=***" in status.stdout, status.stdout
    CAPTURED.extend((proc.stdout, proc.stderr, status.stdout, status.stderr))
    CAPTURED.append(secure_kafka.log.read_text(errors="replace"))
    assert len(CAPTURED) >= 10, "the tests above ran first and captured their output"
    password = secure_kafka.files.password.reveal()
    for i, text in enumerate(CAPTURED):
        assert password not in text, f"the SCRAM password in captured output #{i}"
        assert WRONG_PASSWORD not in text, f"the wrong password in captured output #{i}"
