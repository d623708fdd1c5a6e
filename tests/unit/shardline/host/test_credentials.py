"""The deployment's Kafka security (librdkafka properties) for Faust's aiokafka clients."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

import faust
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials

from ground.errors import ConfigError
from ground.kafka_config import KafkaConfig, KafkaProperty, variable_name
from ground.secret import Secret
from ground.settings import Settings
from shardline.host import HostApp
from shardline.host.credentials import faust_credentials


def kafka(**props: str) -> KafkaConfig:
    """``KafkaConfig`` with librdkafka properties (``ssl_ca_location=…``), as if set by
    their ``SHARDLINE_KAFKA_*`` variables."""
    items = []
    for key, value in props.items():
        name = key.replace("_", ".")
        shown: str | Secret = Secret(value) if name == "sasl.password" else value
        items.append(KafkaProperty(name, shown, variable_name(name)))
    return KafkaConfig("broker:9093", tuple(items))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed CA, and a client certificate and key it signed (PEM files)."""
    folder = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC)

    def cert(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(signer, hashes.SHA256()))

    ca_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    files = {"ca": folder / "ca.pem", "cert": folder / "client.pem", "key": folder / "client.key"}
    files["ca"].write_bytes(cert("test-ca", ca_key, "test-ca", ca_key, True).public_bytes(
        serialization.Encoding.PEM))
    files["cert"].write_bytes(cert("client", client_key, "test-ca", ca_key, False).public_bytes(
        serialization.Encoding.PEM))
    files["key"].write_bytes(client_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-secret")))
    return files


def test_plaintext_needs_no_credentials() -> None:
    assert faust_credentials(KafkaConfig("broker:9092")) is None


def test_sasl_scram_over_tls(pki: dict[str, Path]) -> None:
    creds = faust_credentials(kafka(
        security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="agents",
        sasl_password="s3cret-pass", ssl_ca_location=str(pki["ca"])))
    assert isinstance(creds, SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value) == (
        "agents", "s3cret-pass", "SCRAM-SHA-512")
    assert creds.protocol.value == "SASL_SSL" and creds.ssl_context is not None
    context = creds.ssl_context
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    assert "s3cret" not in repr(creds)


def test_sasl_plain_without_tls() -> None:
    creds = faust_credentials(kafka(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                                    sasl_username="u", sasl_password="p"))
    assert isinstance(creds, SASLCredentials)
    assert creds.protocol.value == "SASL_PLAINTEXT" and creds.ssl_context is None


def test_mutual_tls_and_no_host_name_check(pki: dict[str, Path]) -> None:
    creds = faust_credentials(kafka(
        security_protocol="SSL", ssl_ca_location=str(pki["ca"]),
        ssl_certificate_location=str(pki["cert"]), ssl_key_location=str(pki["key"]),
        ssl_key_password="key-secret", ssl_endpoint_identification_algorithm="none"))
    assert isinstance(creds, SSLCredentials)
    assert not creds.context.check_hostname and creds.context.verify_mode is ssl.CERT_REQUIRED
    with pytest.raises(ConfigError, match="SHARDLINE_KAFKA_SSL_CERTIFICATE_LOCATION: cannot"):
        faust_credentials(kafka(
            security_protocol="SSL", ssl_certificate_location=str(pki["cert"]),
            ssl_key_location=str(pki["key"]), ssl_key_password="wrong"))


def test_msk_iam_tokens_come_from_shardlines_signer() -> None:
    signed: list[Any] = []

    def signer(config: str | None) -> tuple[str, float]:
        signed.append(config)
        return "msk-token", 0.0

    config = replace(kafka(security_protocol="SASL_SSL"), oauth=signer)  # type: ignore[arg-type]
    creds = faust_credentials(config)
    assert isinstance(creds, OAuthCredentials) and creds.protocol.value == "SASL_SSL"
    assert asyncio.run(creds.oauth_cb.token()) == "msk-token" and signed == [None]


@pytest.mark.parametrize(("props", "variable", "what"), [
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"},
     "SHARDLINE_KAFKA_SASL_MECHANISM", "GSSAPI"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"},
     "SHARDLINE_KAFKA_SASL_MECHANISM", "OAUTHBEARER"),
    ({"security_protocol": "SSL", "ssl_keystore_location": "/k.p12"},
     "SHARDLINE_KAFKA_SSL_KEYSTORE_LOCATION", "a PKCS#12 keystore"),
])
def test_what_aiokafka_cannot_do_is_refused(
    props: dict[str, str], variable: str, what: str
) -> None:
    with pytest.raises(ConfigError, match=f"{variable}: Faust's Kafka client .* cannot use {what}"):
        faust_credentials(kafka(**props))


def test_only_a_host_with_agents_starts_faust_clients(tmp_path: Path) -> None:
    base = Settings.from_env({"SHARDLINE_HOME": str(tmp_path)})
    gssapi = replace(base, kafka=kafka(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI"))
    HostApp("no-agents", gssapi).boot_strategy.server()  # no Faust client: nothing to refuse
    app = HostApp("agents", gssapi)

    @app.agent(app.topic("t"))
    async def watch(stream: faust.StreamT[Any]) -> None:
        async for _ in stream:
            pass

    with pytest.raises(ConfigError, match="GSSAPI"):
        app.boot_strategy.server()
    scram = replace(base, kafka=kafka(security_protocol="SASL_PLAINTEXT",
                                      sasl_mechanism="SCRAM-SHA-256", sasl_username="u",
                                      sasl_password="p"))
    app = HostApp("agents", scram)
    app.agent(app.topic("t"))(watch.fun)
    app.boot_strategy.server()
    assert isinstance(app.conf.broker_credentials, SASLCredentials)
