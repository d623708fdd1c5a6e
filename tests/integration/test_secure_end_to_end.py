"""The demo end to end with every connection secured, as a team's own clusters would be.

Three private servers of the local stack on ports of their own (the shared stack is never
touched): the MinIO started for this module, the Kafka and the Elasticsearch once per session
(``secure_kafka``, ``secure_search``):

* Kafka with its SASL_SSL listener (SCRAM-SHA-512 over TLS, ``stack up --secure``); every
  Kafka client is configured by ``SHARDLINE_KAFKA_BOOTSTRAP`` + the stack's
  ``client.properties`` only;
* MinIO serving TLS (an ``https://`` endpoint; its certificate signed by the stack's local
  CA, trusted through ``SHARDLINE_S3_CA_BUNDLE``), reached with temporary credentials from
  its STS (``SHARDLINE_S3_ROLE_ARN``: ``AssumeRole`` over the same TLS port);
* Elasticsearch with security and TLS (``secure_search``), reached with an API key
  (``SHARDLINE_SEARCH_API_KEY``) created for this module, trusting its CA.

The producer, the ticker-analytics KDA SQL application and both deliveries (MinIO and
Elasticsearch, with the S3 backup bucket) run as ``shardline`` processes configured by
those variables alone; the windows delivered equal DuckDB's, as in the plain demo test.
Then every captured output and every server's and client's log is searched for the secrets
used (the SCRAM password, the S3 root secret, the API key and its parts, the search
superuser's password): none is there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from base64 import b64decode
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from rich.console import Console

from ground.kafka import delete_topics_with_prefix
from ground.settings import Settings, s3_stack_ca
from shardline import demo
from shardline.demo import DemoConfig, run_demo
from shardline.stack.component import http_status
from shardline.stack.minio import MinioComponent
from shardline.stack.search_security import create_api_key
from tests.integration.fixtures_private import PrivateServer, _port_pair
from tests.integration.fixtures_secure_kafka import SecureKafka
from tests.integration.offsets import committed_and_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROLE = "arn:aws:iam::000000000000:role/shardline-e2e"
RECORDS, PARTITIONS, MALFORMED = 2_000, 3, 3
SEGMENT = re.compile(r"^\d{20}\.log$")


@dataclass(frozen=True)
class Secured:
    env: dict[str, str]  # what a user sets: every connection secured
    secrets: tuple[str, ...]  # every secret those settings hold (or lead to)
    logs: tuple[Path, ...]  # folders whose *.log files are searched for them


@pytest.fixture(scope="module")
def tls_minio(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A private MinIO serving TLS (the secured stack's MinIO), its CA in its home."""
    port = _port_pair("TLS_S3_PORT")
    home = tmp_path_factory.mktemp("tls-minio")
    settings = replace(stack_settings, home=home, s3_endpoint=f"https://127.0.0.1:{port}",
                       s3_console_port=port + 1, s3_ca_bundle=s3_stack_ca(home),
                       stack_secure=True)
    server = PrivateServer(settings, MinioComponent)
    try:
        server.start()
        yield settings
    finally:
        server.close()


@pytest.fixture(scope="module")
def secured(
    secure_kafka: SecureKafka, tls_minio: Settings, secure_search: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Secured:
    api_key = create_api_key(secure_search, f"e2e-{uuid.uuid4().hex[:8]}")
    assert secure_search.search_auth.password is not None
    home = tmp_path_factory.mktemp("secure-e2e-client")
    env = {
        **secure_kafka.env,
        "SHARDLINE_S3_ENDPOINT": tls_minio.s3_endpoint,
        "SHARDLINE_S3_CONSOLE_PORT": str(tls_minio.s3_console_port),
        "SHARDLINE_S3_REGION": tls_minio.s3_region,
        "SHARDLINE_S3_ACCESS_KEY": tls_minio.s3_access_key.reveal(),
        "SHARDLINE_S3_SECRET_KEY": tls_minio.s3_secret_key.reveal(),
        "SHARDLINE_S3_CA_BUNDLE": str(s3_stack_ca(tls_minio.home)),
        "SHARDLINE_S3_ROLE_ARN": ROLE,
        "SHARDLINE_SEARCH_URL": secure_search.search_url,
        "SHARDLINE_SEARCH_CA_BUNDLE": str(secure_search.search_auth.ca_bundle),
        "SHARDLINE_SEARCH_API_KEY": api_key.reveal(),
        "SHARDLINE_HOME": str(home),
    }
    secrets = [secure_kafka.files.password.reveal(), tls_minio.s3_secret_key.reveal(),
               secure_search.search_auth.password.reveal(), api_key.reveal()]
    decoded = b64decode(api_key.reveal(), validate=True).decode()  # "<id>:<key>"
    secrets += [part for part in decoded.split(":") if len(part) >= 8]
    logs = (home, tls_minio.home, secure_search.home, secure_kafka.log.parent)
    return Secured(env, tuple(secrets), logs)


# Everything the tests of this module captured, searched for the secrets at the end.
CAPTURED: list[str] = []


class _RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
    """Popen that keeps what the process printed."""

    def communicate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out, err = super().communicate(*args, **kwargs)
        CAPTURED.extend(x for x in (out, err) if isinstance(x, str))
        return out, err


def test_every_connection_is_secured(secured: Secured) -> None:
    settings = Settings.from_env(secured.env)
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert settings.kafka.client_config()["sasl.mechanism"] == "SCRAM-SHA-512"
    assert settings.kafka.client_config()["ssl.ca.location"]
    assert settings.s3_endpoint.startswith("https://") and settings.s3_ca_bundle is not None
    assert settings.s3_auth.role is not None
    assert settings.search_url.startswith("https://")
    assert settings.search_auth.method == "api_key"
    # MinIO's port speaks TLS only, verified against the stack's CA
    plain = settings.s3_endpoint.replace("https://", "http://", 1)
    assert http_status(f"{plain}/minio/health/live", 5) != 200
    assert http_status(f"{settings.s3_endpoint}/minio/health/live", 5) is None  # system CAs
    assert http_status(f"{settings.s3_endpoint}/minio/health/live", 5,
                       ca=settings.s3_ca_bundle) == 200


def test_demo_over_secured_connections_matches_duckdb(
    secured: Secured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo's workers are `shardline` processes inheriting this environment (at -v).
    for name in list(os.environ):
        if name.startswith("SHARDLINE_"):
            monkeypatch.delenv(name)
    for name, value in secured.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(demo, "_shardline", lambda *args: [sys.executable, "-m", "shardline",
                                                           "-v", *args])
    monkeypatch.setattr(demo.subprocess, "Popen", _RecordingPopen)
    settings = Settings.from_env()
    run_id = f"it-e2e-{uuid.uuid4().hex[:8]}"
    console = Console(record=True, width=160, file=open(os.devnull, "w"))  # noqa: SIM115
    try:
        result = run_demo(settings, DemoConfig(records=RECORDS, partitions=PARTITIONS, seed=29,
                                               malformed=MALFORMED, run_id=run_id,
                                               start_stack=False), console)
        CAPTURED.append(console.export_text())
        assert result.windows_expected > 10
        for name, cmp in result.checks.items():
            assert cmp.ok, f"{name}: {cmp.describe()}"
            assert cmp.matched == result.windows_expected
        assert result.s3_objects >= 1 and result.search_docs == result.windows_expected
        assert result.error_records == MALFORMED + result.late_expected
        assert result.ok
        committed, end = committed_and_end(settings, f"{run_id}.ticker-analytics",
                                           f"{run_id}.ticker", PARTITIONS)
        assert committed == end and sum(end.values()) == RECORDS
        # the S3 deliveries really signed with temporary credentials from MinIO's STS
        workers = "\n".join(CAPTURED)
        assert "temporary credentials obtained: AssumeRole of SHARDLINE_S3_ROLE_ARN" in workers
    finally:
        delete_topics_with_prefix(settings.kafka, run_id)


def _log_files(folder: Path) -> list[Path]:
    """The ``*.log`` files under ``folder`` but Kafka's data segments (records, not logs).
    ``os.walk`` skips a folder that vanishes under it: the broker removes the partitions of
    the topics the test above deleted while this one walks its data folder."""
    found = []
    for root, _dirs, files in os.walk(folder):
        found.extend(Path(root) / name for name in files
                     if name.endswith(".log") and not SEGMENT.match(name))
    return sorted(found)


def test_no_secret_in_any_output_or_log(secured: Secured) -> None:
    assert len(CAPTURED) >= 3, "the demo above ran first and captured its workers' output"
    texts = {f"captured output #{i}": text for i, text in enumerate(CAPTURED)}
    for folder in secured.logs:
        for path in _log_files(folder):
            try:
                texts[str(path)] = path.read_text(errors="replace")
            except FileNotFoundError:  # a deleted topic's partition, removed meanwhile
                continue
    assert len(texts) > len(CAPTURED), "the servers' logs were found"
    for where, text in texts.items():
        for i, secret in enumerate(secured.secrets):
            assert secret not in text, f"secret #{i} in {where}"
