"""ground.kafka_check: librdkafka's reports become one clear line naming the setting to fix,
never a secret (the texts below are librdkafka 2.16's, as seen against a SASL_SSL broker)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaError

from ground.errors import BrokerUnavailableError, KafkaSecurityError
from ground.kafka import wait_for_broker
from ground.kafka_check import ConnectionProblems
from ground.kafka_config import KafkaConfig

PASSWORD = "s3cr3t-Pa55word"

AUTH = ("sasl_ssl://127.0.0.1:27194/bootstrap: SASL authentication error: Authentication "
        "failed during authentication due to invalid credentials with SASL mechanism "
        "SCRAM-SHA-512 (after 432ms in state AUTH_REQ)")
UNTRUSTED = ("sasl_ssl://127.0.0.1:27194/bootstrap: SSL handshake failed: error:0A000086:SSL "
             "routines::certificate verify failed: broker certificate could not be verified, "
             "verify that ssl.ca.location is correctly configured or root CA certificates are "
             "installed (install ca-certificates package) (after 6ms in state SSL_HANDSHAKE)")
MECHANISM = ("sasl_ssl://127.0.0.1:27194/bootstrap: SASL PLAIN mechanism handshake failed: "
             "Broker: Unsupported SASL mechanism: broker's supported mechanisms: SCRAM-SHA-512 "
             "(after 301ms in state AUTH_HANDSHAKE)")
PLAIN_TO_TLS = ("[thrd:127.0.0.1:27194/bootstrap]: 127.0.0.1:27194/bootstrap: Disconnected: "
                "connection closed by peer: receive 0 after POLLIN (after 2ms in state "
                "APIVERSION_QUERY)")
REFUSED = ("sasl_ssl://127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection "
           "refused (after 0ms in state CONNECT)")


def scram(tmp_path: Path) -> KafkaConfig:
    ca = tmp_path / "ca.pem"
    return KafkaConfig("127.0.0.1:27194").with_properties(
        {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
         "sasl.username": "alice", "sasl.password": PASSWORD, "ssl.ca.location": str(ca)},
        "SHARDLINE_KAFKA_CONFIG_FILE (client.properties)")


def fatal(config: KafkaConfig, *reports: object) -> KafkaSecurityError:
    problems = ConnectionProblems(config)
    for r in reports:
        problems.add(r)
    with pytest.raises(KafkaSecurityError) as info:
        problems.raise_if_fatal()
    message = str(info.value)
    assert "\n" not in message and PASSWORD not in message
    return info.value


def test_refused_credentials_name_kafka_and_the_settings(tmp_path: Path) -> None:
    config = KafkaConfig("127.0.0.1:27194").with_properties(
        {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
         "sasl.username": "alice"}, "SHARDLINE_KAFKA_SASL_USERNAME"
    ).with_properties({"sasl.password": PASSWORD}, "SHARDLINE_KAFKA_SASL_PASSWORD")
    err = fatal(config, KafkaError(KafkaError._AUTHENTICATION, AUTH))
    assert str(err) == (
        "Kafka at 127.0.0.1:27194 refused the SCRAM-SHA-512 credentials (SASL authentication "
        "error: Authentication failed during authentication due to invalid credentials with "
        "SASL mechanism SCRAM-SHA-512): check SHARDLINE_KAFKA_SASL_USERNAME and "
        "SHARDLINE_KAFKA_SASL_PASSWORD")
    assert err.setting == "SHARDLINE_KAFKA_SASL_PASSWORD"
    # a log line says the same as the error callback
    assert "refused the SCRAM-SHA-512" in str(fatal(config, AUTH))


def test_a_secret_in_librdkafkas_text_is_redacted(tmp_path: Path) -> None:
    err = fatal(scram(tmp_path), KafkaError(KafkaError._AUTHENTICATION,
                                            f"SASL authentication error: bad {PASSWORD}"))
    assert "bad ***" in str(err)


def test_an_untrusted_certificate_names_the_ca_setting(tmp_path: Path) -> None:
    err = fatal(scram(tmp_path), KafkaError(KafkaError._SSL, UNTRUSTED))
    assert str(err) == (
        "Kafka at 127.0.0.1:27194: the broker's TLS certificate is not trusted (SSL handshake "
        "failed: error:0A000086:SSL routines::certificate verify failed): set "
        "SHARDLINE_KAFKA_CONFIG_FILE (client.properties) to the CA certificate that signed it "
        f"(now {tmp_path / 'ca.pem'})")
    unset = KafkaConfig("h:1").with_properties({"security.protocol": "SSL"}, "X")
    assert fatal(unset, UNTRUSTED).setting == "SHARDLINE_KAFKA_SSL_CA_LOCATION"


def test_a_mechanism_the_broker_does_not_offer(tmp_path: Path) -> None:
    config = scram(tmp_path).with_properties({"sasl.mechanism": "PLAIN"},
                                             "SHARDLINE_KAFKA_SASL_MECHANISM")
    err = fatal(config, KafkaError(KafkaError._AUTHENTICATION, MECHANISM))
    assert "does not offer the SASL mechanism PLAIN" in str(err)
    assert err.setting == "SHARDLINE_KAFKA_SASL_MECHANISM"


def test_unreachable_and_wrong_protocol_wait_for_the_timeout(tmp_path: Path) -> None:
    problems = ConnectionProblems(KafkaConfig("127.0.0.1:27194"))
    for report in (PLAIN_TO_TLS, KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"),
                   KafkaError(KafkaError._TRANSPORT, "Failed to get metadata")):
        problems.add(report)
    problems.raise_if_fatal()  # not fatal: a broker may come up
    message = str(problems.unavailable(10))
    assert message == (
        "no Kafka broker answered at 127.0.0.1:27194 within 10s (Disconnected: connection "
        "closed by peer: receive 0 after POLLIN); is SHARDLINE_KAFKA_SECURITY_PROTOCOL (now "
        "PLAINTEXT) the protocol of this listener?")
    refused = ConnectionProblems(scram(tmp_path).with_bootstrap("127.0.0.1:9"))
    refused.add(REFUSED)
    assert str(refused.unavailable(3)).endswith(
        "(Connect to ipv4#127.0.0.1:9 failed: Connection refused); start one with `shardline "
        "stack up` or set SHARDLINE_KAFKA_BOOTSTRAP")


def test_wait_for_broker_reports_an_unreachable_broker_with_its_reason() -> None:
    t0 = time.monotonic()
    with pytest.raises(BrokerUnavailableError) as info:
        wait_for_broker(KafkaConfig("127.0.0.1:1"), timeout_s=1.5)
    assert time.monotonic() - t0 < 6
    assert "no Kafka broker answered at 127.0.0.1:1 within 2s" in str(info.value)
    assert "Connection refused" in str(info.value)
    assert "SHARDLINE_KAFKA_BOOTSTRAP" in str(info.value)


def test_the_logger_keeps_failures_only() -> None:
    problems = ConnectionProblems(KafkaConfig("h:1"))
    problems.log(20, "%s [%s] %s", "FAIL", "rdkafka#producer-1", PLAIN_TO_TLS)
    problems.log(20, "%s [%s] %s", "STATE", "rdkafka#producer-1", "state change")
    problems.log(30, "%s [%s] %s", "CONFWARN", "rdkafka#producer-1", "a warning")
    assert problems.reports == [PLAIN_TO_TLS, "a warning"]
