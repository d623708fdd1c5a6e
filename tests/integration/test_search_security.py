"""Delivery to an Elasticsearch with security on (``secure_search``: a private node with TLS,
a superuser and API keys): with basic auth and with an API key over verified TLS; a wrong
credential is refused at start-up and mid-run with a clear error naming Elasticsearch and
the setting, nothing is committed, and the rerun with the right credential delivers every
document exactly once. No captured output or log holds a secret.

Documents are read back with plain ``urllib`` over TLS as the node's superuser (not through
``connectors``); offsets with the Kafka consumer API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from base64 import b64decode, b64encode
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka import Producer

from connectors import DeliveryConfig, build_worker, preflight
from ground.errors import CredentialsError
from ground.search_auth import SearchAuth
from ground.secret import Secret
from ground.settings import Settings
from shardline.stack.search_security import create_api_key
from shardline.verify import read_search_index
from tests.integration.offsets import committed_and_end

pytestmark = pytest.mark.integration

PARTITIONS = 3
N = 240
TIMEOUT_S = 180


def _produce(settings: Settings, topic: str, start: int = 0, n: int = N) -> list[bytes]:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    values = [json.dumps({"i": i, "ticker": f"T{i % 5}", "price": i / 8}).encode()
              for i in range(start, start + n)]
    for i, value in enumerate(values):
        producer.produce(topic, key=b"k%d" % (start + i), value=value,
                         partition=(start + i) % PARTITIONS)
    assert producer.flush(30) == 0
    return values


def _search(settings: Settings, method: str, path: str, body: Any = None) -> Any:
    """One request as the node's superuser, over TLS trusting its CA."""
    auth = settings.search_auth
    assert auth.password is not None and auth.ca_bundle is not None
    pair = f"{auth.username}:{auth.password.reveal()}".encode()
    request = urllib.request.Request(
        settings.search_url + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Basic " + b64encode(pair).decode(),
                 "Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=str(auth.ca_bundle))
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return {"status": exc.code}


def _documents(settings: Settings, index: str) -> Counter[str]:
    _search(settings, "POST", f"/{index}/_refresh")
    answer = _search(settings, "POST", f"/{index}/_search",
                     {"size": 10_000, "query": {"match_all": {}}})
    hits = answer.get("hits", {}).get("hits", []) if answer.get("status") != 404 else []
    return Counter(json.dumps(h["_source"], sort_keys=True) for h in hits)


def _expected(values: list[bytes]) -> Counter[str]:
    return Counter(json.dumps(json.loads(v), sort_keys=True) for v in values)


def _committed(settings: Settings, group: str, topic: str) -> dict[int, int]:
    committed, end = committed_and_end(settings, group, topic, PARTITIONS)
    return {p: (o if o >= 0 else -1) for p, o in committed.items()} | {
        -1: sum(end.values())}


def _nothing_committed(settings: Settings, group: str, topic: str) -> bool:
    committed, _end = committed_and_end(settings, group, topic, PARTITIONS)
    return all(offset < 0 for offset in committed.values())


def _all_committed(settings: Settings, group: str, topic: str) -> bool:
    committed, end = committed_and_end(settings, group, topic, PARTITIONS)
    return committed == end


def _config(topic: str, index: str, group: str) -> DeliveryConfig:
    return DeliveryConfig.from_mapping({
        "name": "it-secure", "topic": topic, "group": group,
        "elasticsearch": {"index": index, "buffering": {"max_records": 100,
                                                        "interval_ms": 1_000}}})


def _cli(settings: Settings, topic: str, index: str, group: str,
         auth_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``shardline -v deliver`` against the secured node, credentials from ``auth_env``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDLINE_SEARCH_")}
    env.update({
        "SHARDLINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SHARDLINE_SEARCH_URL": settings.search_url,
        "SHARDLINE_SEARCH_CA_BUNDLE": str(settings.search_auth.ca_bundle),
        "SHARDLINE_HOME": str(settings.home),
        **auth_env,
    })
    return subprocess.run(
        [sys.executable, "-m", "shardline", "-v", "deliver", "--topic", topic, "--es-index",
         index, "--group", group, "--max-records", "100", "--interval-ms", "1000",
         "--until-idle", "3"],
        env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def _secrets_of(*values: str) -> list[str]:
    """Each secret, and for an API key the id and key inside its base64 too."""
    found: list[str] = []
    for value in values:
        found.append(value)
        try:
            decoded = b64decode(value, validate=True).decode()
        except ValueError:
            continue
        found.extend(part for part in decoded.split(":") if len(part) >= 8)
    return found


def test_basic_auth_over_tls_delivers_every_document_once(
    secure_search: Settings, topic_factory: Any
) -> None:
    settings = secure_search
    topic = topic_factory(PARTITIONS)
    index, group = f"basic-{topic}".lower(), f"{topic}-basic"
    values = _produce(settings, topic)
    config = _config(topic, index, group)
    preflight(config, settings)
    assert build_worker(config, settings).run(until_idle_ms=3_000).records == N
    assert _documents(settings, index) == _expected(values)
    assert _all_committed(settings, group, topic)
    # `shardline verify` reads the index with the same settings.
    assert len(asyncio.run(read_search_index(settings, index))) == N


def test_an_api_key_over_tls_and_a_wrong_credential(
    secure_search: Settings, topic_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = secure_search
    topic = topic_factory(PARTITIONS)
    index, group = f"keyed-{topic}".lower(), f"{topic}-keyed"
    values = _produce(settings, topic)
    key = create_api_key(settings, f"it-{topic}").reveal()
    wrong_key = b64encode(b"AbCdEfGhIjKlMnOpQrSt:wrong-api-key-secret").decode()
    admin_password = settings.search_auth.password
    assert admin_password is not None
    outputs: list[str] = []

    # A wrong API key: refused at start-up, naming Elasticsearch and the setting; nothing
    # delivered, nothing committed.
    refused = _cli(settings, topic, index, group, {"SHARDLINE_SEARCH_API_KEY": wrong_key})
    outputs += [refused.stdout, refused.stderr]
    assert refused.returncode == 2, refused.stderr
    error = [line for line in refused.stderr.splitlines() if "shardline: error:" in line]
    assert len(error) == 1 and error[0].startswith("shardline: error: Elasticsearch: ")
    assert "refused the credentials (an API key): HTTP 401" in error[0]
    assert "(check SHARDLINE_SEARCH_API_KEY)" in error[0]
    # A wrong password: the same, naming the basic-auth settings.
    bad_password = _cli(settings, topic, index, group, {
        "SHARDLINE_SEARCH_USERNAME": settings.search_auth.username,
        "SHARDLINE_SEARCH_PASSWORD": "not-the-password-1"})
    outputs += [bad_password.stdout, bad_password.stderr]
    assert bad_password.returncode == 2
    assert "(check SHARDLINE_SEARCH_USERNAME / SHARDLINE_SEARCH_PASSWORD)" in bad_password.stderr
    assert _nothing_committed(settings, group, topic)
    assert _documents(settings, index) == Counter()

    # Refused mid-run (no start-up check): the worker stops on the first bulk request, with
    # nothing backed up and nothing committed.
    wrong = replace(settings, search_auth=SearchAuth(
        method="api_key", api_key=Secret(wrong_key), ca_bundle=settings.search_auth.ca_bundle))
    with caplog.at_level(logging.INFO), pytest.raises(CredentialsError) as info:
        build_worker(_config(topic, index, group), wrong).run(until_idle_ms=3_000)
    outputs.append(str(info.value))
    assert str(info.value).startswith("Elasticsearch: ") and "SHARDLINE_SEARCH_API_KEY" in str(
        info.value)
    assert _nothing_committed(settings, group, topic)

    # The right key: everything, exactly once.
    delivered = _cli(settings, topic, index, group, {"SHARDLINE_SEARCH_API_KEY": key})
    outputs += [delivered.stdout, delivered.stderr]
    assert delivered.returncode == 0, delivered.stderr
    assert f"delivered {N} records" in delivered.stderr
    assert _documents(settings, index) == _expected(values)
    assert _all_committed(settings, group, topic)

    # No secret in any output, error or log line.
    outputs.append(caplog.text)
    text = "\n".join(outputs)
    assert "Elasticsearch" in text and len(text) > 1_000  # the grep looks at real output
    for secret in _secrets_of(key, wrong_key, admin_password.reveal(), "not-the-password-1"):
        assert secret not in text, "a secret was printed"
