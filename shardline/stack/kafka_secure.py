"""The local Kafka's secured listener: a local CA, the broker's certificate, a SCRAM user.

``shardline stack up --secure`` (or ``SHARDLINE_STACK_SECURE=1``) adds a ``SASL_SSL``
listener on ``SHARDLINE_KAFKA_SECURE_PORT`` beside the plain one: TLS with a certificate
signed by a CA made here (with ``cryptography``), SCRAM-SHA-512 authentication for a user
created at start-up. Everything lives in ``<home>/kafka/secure/``:

* ``ca.pem`` — the CA's certificate, what clients trust (``ssl.ca.location``);
* ``ca-key.pem``, ``broker.pem`` — private keys and the broker's chain (mode 0600);
* ``client.properties`` — a ready client configuration (mode 0600) holding the user's
  generated password: ``SHARDLINE_KAFKA_BOOTSTRAP=127.0.0.1:19094
  SHARDLINE_KAFKA_CONFIG_FILE=<home>/kafka/secure/client.properties``.

The CA and the password are made once and kept; the broker's certificate is made again
when it is missing, names another host, or expires within :data:`RENEW_BEFORE_DAYS`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ground.java_properties import parse_properties
from ground.kafka_config import KafkaConfig
from ground.secret import Secret
from shardline.stack.certificates import (
    PrivateKey,
    certificate_pem,
    general_name,
    is_current,
    issue_certificate,
    load_ca,
    private_key_pem,
    self_signed_ca,
    subject_alt_names,
    write_private,
)

__all__ = [
    "SCRAM_MECHANISM",
    "SCRAM_USER",
    "SecureFiles",
    "client_properties",
    "ensure_secure_files",
    "listener_properties",
    "make_ca",
]

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_USER = "shardline"
LISTENER = "SASL_SSL"
CA_DAYS = 3650
BROKER_DAYS = 825
RENEW_BEFORE_DAYS = 30
KEY_BITS = 2048


@dataclass(frozen=True, slots=True)
class SecureFiles:
    """Where the secured listener's files are, and the SCRAM user's password."""

    folder: Path
    password: Secret

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def broker(self) -> Path:
        return self.folder / "broker.pem"

    @property
    def client_properties(self) -> Path:
        return self.folder / "client.properties"

    def client(self, bootstrap: str) -> KafkaConfig:
        """The client configuration of the secured listener at ``bootstrap``."""
        return KafkaConfig(bootstrap).with_properties(
            {
                "security.protocol": LISTENER,
                "sasl.mechanism": SCRAM_MECHANISM,
                "sasl.username": SCRAM_USER,
                "sasl.password": self.password.reveal(),
                "ssl.ca.location": str(self.ca),
            },
            str(self.client_properties),
        )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def make_ca(common_name: str = "Shardline local CA") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed CA (key, certificate)."""
    key = _key()
    return key, self_signed_ca(key, common_name=common_name, days=CA_DAYS,
                               digital_signature=False)  # fmt: skip


def _san(host: str) -> list[x509.GeneralName]:
    return subject_alt_names([host, "127.0.0.1"])


def _broker_cert(host: str, ca_key: PrivateKey, ca: x509.Certificate
                 ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:  # fmt: skip
    key = _key()
    cert = issue_certificate(key, common_name=host, names=_san(host),
                             usages=[ExtendedKeyUsageOID.SERVER_AUTH], days=BROKER_DAYS,
                             ca_key=ca_key, ca=ca)  # fmt: skip
    return key, cert


def _broker_current(path: Path, host: str, ca: x509.Certificate) -> bool:
    if not path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificates(path.read_bytes())[0]
    except ValueError:
        return False
    return is_current(cert, ca, [general_name(host)], dt.timedelta(days=RENEW_BEFORE_DAYS))


def _password(path: Path) -> Secret | None:
    if not path.exists():
        return None
    for line in parse_properties(path.read_text(encoding="utf-8"), str(path)):
        if line.key == "sasl.password" and line.value:
            return Secret(line.value)
    return None


def ensure_secure_files(folder: Path, host: str, secure_port: int) -> SecureFiles:
    """Make (or keep) the CA, the broker's certificate for ``host``, the SCRAM password and
    the client properties under ``folder``."""
    files = SecureFiles(folder, _password(folder / "client.properties")
                        or Secret(secrets.token_urlsafe(24)))
    folder.mkdir(parents=True, exist_ok=True)
    ca_key: PrivateKey
    if files.ca.exists() and files.ca_key.exists():
        ca_key, ca = load_ca(files.ca, files.ca_key)
    else:
        ca_key, ca = make_ca()
        write_private(files.ca_key, private_key_pem(ca_key))
        files.ca.write_bytes(certificate_pem(ca))
        files.broker.unlink(missing_ok=True)
    if not _broker_current(files.broker, host, ca):
        key, cert = _broker_cert(host, ca_key, ca)
        write_private(files.broker, private_key_pem(key) + certificate_pem(cert)
                      + certificate_pem(ca))  # fmt: skip
    write_private(files.client_properties,
                  client_properties(files, f"{host}:{secure_port}").encode())
    return files


def client_properties(files: SecureFiles, bootstrap: str) -> str:
    """The client configuration file of the secured listener (holds the password)."""
    return (
        "# Kafka clients of the local stack's SASL_SSL listener (made by shardline stack up):\n"
        f"#   SHARDLINE_KAFKA_BOOTSTRAP={bootstrap}\n"
        f"#   SHARDLINE_KAFKA_CONFIG_FILE={files.client_properties}\n"
        f"bootstrap.servers={bootstrap}\n"
        f"security.protocol={LISTENER}\n"
        f"sasl.mechanism={SCRAM_MECHANISM}\n"
        f"sasl.username={SCRAM_USER}\n"
        f"sasl.password={files.password.reveal()}\n"
        f"ssl.ca.location={files.ca}\n"
    )


def _pem_block(data: bytes) -> str:
    """A PEM text as one properties value: its lines joined by escaped newlines."""
    return " \\\n    ".join(data.decode().strip().splitlines())


def listener_properties(files: SecureFiles) -> dict[str, str]:
    """``server.properties`` lines of the SASL_SSL listener. The broker's key is inline and
    unencrypted (Kafka reads a PEM key store from a file only with a key password), its
    chain the broker's certificate alone: joined into one line, Kafka's PEM pattern would
    read two certificates as the second one; clients trust the CA itself anyway."""
    pem = files.broker.read_bytes()
    key_end = pem.index(b"-----END PRIVATE KEY-----") + len(b"-----END PRIVATE KEY-----")
    end = b"-----END CERTIFICATE-----"
    leaf_end = pem.index(end, key_end) + len(end)
    prefix = f"listener.name.{LISTENER.lower()}."
    return {
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        f"{prefix}{SCRAM_MECHANISM.lower()}.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        f"{prefix}ssl.keystore.type": "PEM",
        f"{prefix}ssl.keystore.key": _pem_block(pem[:key_end]),
        f"{prefix}ssl.keystore.certificate.chain": _pem_block(pem[key_end:leaf_end]),
    }
