"""S3 deliveries with other credentials than the static keys, against the stack's MinIO.

**Temporary credentials from MinIO's STS.** ``shardline deliver`` runs with
``SHARDLINE_S3_ROLE_ARN``: it calls ``AssumeRole`` on MinIO (signed with the root keys) and
signs every S3 request with the temporary keys it gets. MinIO's shortest lifetime is 900 s,
so to see them replaced within the test the refresh window is set to 893 s: botocore's
refreshable credentials then fetch new ones about 7 s after each ``AssumeRole``, while the
delivery is writing. What is real: every ``AssumeRole`` call and answer, the temporary keys
signing the PUTs, their replacement mid-run. What is not: the old keys had not expired at
MinIO yet when they were replaced — the refresh happens *before* expiry, as it should, only
sooner than with a production window. The log lines counted are the ones the credentials
module writes for each ``AssumeRole`` it makes.

**Refused credentials.** A wrong secret key (and a wrong key for ``AssumeRole``) stops the
delivery at start-up with a clear error naming S3 (or STS) and the settings, exit 2, nothing
committed; refused mid-run (no start-up check) it stops too, nothing committed; the rerun
with the right keys delivers every record exactly once. No output holds a secret.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka import Producer

from connectors import DeliveryConfig, build_worker
from ground.errors import CredentialsError
from ground.secret import Secret
from ground.settings import Settings
from tests.integration.fixtures_sinks import read_objects
from tests.integration.offsets import committed_and_end

pytestmark = pytest.mark.integration

PARTITIONS = 3
ROLE = "arn:aws:iam::000000000000:role/shardline-it"
TIMEOUT_S = 240
WRONG_SECRET = "wrong-secret-key-0123"


def _produce(settings: Settings, topic: str, start: int, n: int) -> list[bytes]:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    values = [json.dumps({"i": i, "price": i / 4}).encode() for i in range(start, start + n)]
    for i, value in enumerate(values):
        producer.produce(topic, value=value, partition=(start + i) % PARTITIONS)
    assert producer.flush(30) == 0
    return values


def _lines(settings: Settings, bucket: str) -> Counter[bytes]:
    return Counter(line for key, body in read_objects(settings, bucket).items()
                   for line in (gzip.decompress(body) if key.endswith(".gz") else body
                                ).splitlines())


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDLINE_S3_")}
    env.update({
        "SHARDLINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SHARDLINE_S3_ENDPOINT": settings.s3_endpoint,
        "SHARDLINE_S3_REGION": settings.s3_region,
        "SHARDLINE_S3_ACCESS_KEY": settings.s3_access_key.reveal(),
        "SHARDLINE_S3_SECRET_KEY": settings.s3_secret_key.reveal(),
        "SHARDLINE_HOME": str(settings.home),
        **extra,
    })
    return env


def _deliver_argv(topic: str, bucket: str, group: str, idle_s: int) -> list[str]:
    return [sys.executable, "-m", "shardline", "-v", "deliver", "--topic", topic,
            "--s3-bucket", bucket, "--s3-prefix", "out/", "--group", group,
            "--max-records", "40", "--interval-ms", "1000", "--until-idle", str(idle_s)]


def _nothing_committed(settings: Settings, group: str, topic: str) -> bool:
    committed, _end = committed_and_end(settings, group, topic, PARTITIONS)
    return all(offset < 0 for offset in committed.values())


def _all_committed(settings: Settings, group: str, topic: str) -> bool:
    committed, end = committed_and_end(settings, group, topic, PARTITIONS)
    return committed == end


def test_temporary_credentials_from_minio_refresh_mid_run(
    stack_settings: Settings, topic_factory: Any, bucket_factory: Any
) -> None:
    settings = stack_settings
    topic, bucket = topic_factory(PARTITIONS), bucket_factory("sts")
    group = f"{topic}-sts"
    sent: list[bytes] = _produce(settings, topic, 0, 60)
    env = _env(settings, SHARDLINE_S3_ROLE_ARN=ROLE, SHARDLINE_S3_ROLE_DURATION_SECONDS="900",
               SHARDLINE_S3_REFRESH_SECONDS="893")
    proc = subprocess.Popen(_deliver_argv(topic, bucket, group, idle_s=6), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: dict[str, str] = {}
    reader = threading.Thread(target=lambda: out.update(zip(
        ("stdout", "stderr"), proc.communicate(timeout=TIMEOUT_S), strict=True)))
    reader.start()
    try:
        for wave in range(1, 7):  # ~25 s of records while the delivery runs
            time.sleep(4)
            sent += _produce(settings, topic, wave * 60, 60)
    finally:
        reader.join(TIMEOUT_S)
        if proc.poll() is None:
            proc.kill()
    stderr = out.get("stderr", "")
    assert proc.returncode == 0, stderr[-3000:]
    obtained = stderr.count("temporary credentials obtained: AssumeRole of SHARDLINE_S3_ROLE_ARN")
    refreshed = stderr.count("temporary credentials refreshed: AssumeRole of "
                             "SHARDLINE_S3_ROLE_ARN")
    assert obtained >= 1 and refreshed >= 2, stderr[-3000:]
    assert _lines(settings, bucket) == Counter(sent)  # every record exactly once
    assert _all_committed(settings, group, topic)
    assert settings.s3_secret_key.reveal() not in stderr + out.get("stdout", "")


def test_refused_s3_credentials_stop_the_delivery_and_commit_nothing(
    stack_settings: Settings, topic_factory: Any, bucket_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = stack_settings
    topic, bucket = topic_factory(PARTITIONS), bucket_factory("badkeys")
    group = f"{topic}-bad"
    sent = _produce(settings, topic, 0, 150)
    outputs: list[str] = []

    refused = subprocess.run(_deliver_argv(topic, bucket, group, idle_s=3), capture_output=True,
                             text=True, timeout=TIMEOUT_S, check=False,
                             env=_env(settings, SHARDLINE_S3_SECRET_KEY=WRONG_SECRET))
    outputs += [refused.stdout, refused.stderr]
    assert refused.returncode == 2, refused.stderr
    (error,) = [line for line in refused.stderr.splitlines() if "shardline: error:" in line]
    assert error.startswith(f"shardline: error: S3: {settings.s3_endpoint} refused the"
                            " credentials (SignatureDoesNotMatch")
    assert error.endswith("(check SHARDLINE_S3_ACCESS_KEY / SHARDLINE_S3_SECRET_KEY)")

    unknown = subprocess.run(_deliver_argv(topic, bucket, group, idle_s=3), capture_output=True,
                             text=True, timeout=TIMEOUT_S, check=False,
                             env=_env(settings, SHARDLINE_S3_ACCESS_KEY="no-such-user"))
    outputs += [unknown.stdout, unknown.stderr]
    assert unknown.returncode == 2 and "(InvalidAccessKeyId" in unknown.stderr

    role = subprocess.run(_deliver_argv(topic, bucket, group, idle_s=3), capture_output=True,
                          text=True, timeout=TIMEOUT_S, check=False,
                          env=_env(settings, SHARDLINE_S3_SECRET_KEY=WRONG_SECRET,
                                   SHARDLINE_S3_ROLE_ARN=ROLE))
    outputs += [role.stdout, role.stderr]
    assert role.returncode == 2
    assert "shardline: error: STS: AssumeRole was refused" in role.stderr
    assert "(check SHARDLINE_S3_ROLE_ARN assumed with SHARDLINE_S3_ACCESS_KEY" in role.stderr
    assert _nothing_committed(settings, group, topic)
    assert read_objects(settings, bucket) == {}

    # Refused mid-run (no start-up check): the first PUT stops the worker, nothing committed.
    wrong = replace(settings, s3_secret_key=Secret(WRONG_SECRET))
    config = DeliveryConfig.from_mapping({
        "name": "it-badkeys", "topic": topic, "group": group,
        "s3": {"bucket": bucket, "prefix": "out/", "error_output_prefix": "errors/",
               "buffering": {"max_records": 40, "interval_ms": 1_000},
               "retry": {"duration_seconds": 20}}})
    with caplog.at_level(logging.INFO), pytest.raises(CredentialsError) as info:
        build_worker(config, wrong).run(until_idle_ms=3_000)
    outputs.append(str(info.value))
    assert str(info.value).startswith("S3: ") and "SHARDLINE_S3_SECRET_KEY" in str(info.value)
    assert _nothing_committed(settings, group, topic)
    assert read_objects(settings, bucket) == {}  # not even the error prefix got them

    # The right keys: every record exactly once.
    ok = subprocess.run(_deliver_argv(topic, bucket, group, idle_s=3), capture_output=True,
                        text=True, timeout=TIMEOUT_S, check=False, env=_env(settings))
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert _lines(settings, bucket) == Counter(sent)
    assert _all_committed(settings, group, topic)

    outputs.append(caplog.text)
    text = "\n".join(outputs)
    assert "SignatureDoesNotMatch" in text
    for secret in (WRONG_SECRET, settings.s3_secret_key.reveal()):
        assert secret not in text, "a secret was printed"
