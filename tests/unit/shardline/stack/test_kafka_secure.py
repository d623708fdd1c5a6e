"""The local Kafka's secured listener: CA, broker certificate, SCRAM password, client file."""

from __future__ import annotations

import ipaddress
import stat
from dataclasses import replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ground.java_properties import parse_properties
from ground.settings import Settings
from shardline.stack.kafka import KafkaComponent, server_properties
from shardline.stack.kafka_secure import (
    SCRAM_MECHANISM,
    SCRAM_USER,
    ensure_secure_files,
    listener_properties,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_made_once_private_and_chain_to_the_ca(tmp_path: Path) -> None:
    files = ensure_secure_files(tmp_path / "secure", "127.0.0.1", 29094)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    broker = x509.load_pem_x509_certificates(files.broker.read_bytes())
    assert len(broker) == 2 and broker[1] == ca
    broker[0].verify_directly_issued_by(ca)
    sans = broker[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for secret in (files.ca_key, files.broker, files.client_properties):
        assert mode(secret) == 0o600, secret
    assert len(files.password.reveal()) >= 24

    again = ensure_secure_files(tmp_path / "secure", "127.0.0.1", 29094)
    assert again.password == files.password
    assert files.ca.read_bytes() == again.ca.read_bytes()
    assert x509.load_pem_x509_certificates(again.broker.read_bytes())[0] == broker[0]
    other_host = ensure_secure_files(tmp_path / "secure", "127.0.0.2", 29094)
    assert x509.load_pem_x509_certificates(other_host.broker.read_bytes())[0] != broker[0]
    assert other_host.ca.read_bytes() == files.ca.read_bytes()


def test_the_client_file_is_a_working_configuration(tmp_path: Path) -> None:
    files = ensure_secure_files(tmp_path / "secure", "127.0.0.1", 29094)
    settings = Settings.from_env({"SHARDLINE_KAFKA_CONFIG_FILE": str(files.client_properties),
                                  "SHARDLINE_KAFKA_BOOTSTRAP": "127.0.0.1:29094"})
    conf = settings.kafka.client_config()  # validated by librdkafka: the CA file loads
    assert conf == files.client("127.0.0.1:29094").client_config()
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.mechanism"] == SCRAM_MECHANISM
    assert conf["sasl.username"] == SCRAM_USER and conf["ssl.ca.location"] == str(files.ca)
    assert files.password.reveal() not in repr(settings)


def test_listener_lines_hold_the_broker_key_and_its_certificate(tmp_path: Path) -> None:
    files = ensure_secure_files(tmp_path / "secure", "127.0.0.1", 29094)
    text = server_properties(host="127.0.0.1", port=29092, controller_port=29093,
                             log_dir=tmp_path, secure_port=29094,
                             secure=listener_properties(files))
    props = {p.key: p.value for p in parse_properties(text, "server.properties")}
    assert props["listeners"] == ("PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093,"
                                  "SASL_SSL://127.0.0.1:29094")
    assert props["listener.security.protocol.map"].endswith(",SASL_SSL:SASL_SSL")
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    prefix = "listener.name.sasl_ssl."
    assert "ScramLoginModule required" in props[prefix + "scram-sha-512.sasl.jaas.config"]
    assert props[prefix + "ssl.keystore.type"] == "PEM"
    # Kafka reads each value back from one line: whitespace inside the base64 is dropped
    key_pem = props[prefix + "ssl.keystore.key"].replace(" ", "\n").replace(
        "-----BEGIN\nPRIVATE\nKEY-----", "-----BEGIN PRIVATE KEY-----").replace(
        "-----END\nPRIVATE\nKEY-----", "-----END PRIVATE KEY-----")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    chain = props[prefix + "ssl.keystore.certificate.chain"]
    assert chain.count("BEGIN CERTIFICATE") == 1  # the broker's own: see listener_properties
    leaf = x509.load_pem_x509_certificates(files.broker.read_bytes())[0]
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()  # type: ignore[union-attr]


def test_secure_component_claims_its_port(settings: Settings) -> None:
    plain = KafkaComponent(settings, {})
    assert [c.setting for c in plain.ports()] == ["SHARDLINE_KAFKA_BOOTSTRAP",
                                                  "SHARDLINE_KAFKA_CONTROLLER_PORT"]
    secure = KafkaComponent(replace(settings, stack_secure=True, kafka_secure_port=39194), {})
    assert [(c.port, c.setting) for c in secure.ports()][-1] == (39194,
                                                                 "SHARDLINE_KAFKA_SECURE_PORT")
    assert secure.secure_bootstrap == "127.0.0.1:39194"
    assert secure.plain.bootstrap == "127.0.0.1:39192" and secure.plain.properties == ()
    plain.ready()  # nothing to do without the secured listener
