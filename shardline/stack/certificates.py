"""Certificates of the secured local stack: a local CA, server certificates it signs, and
their PEM files (with ``cryptography``).

The secured Kafka listener (:mod:`shardline.stack.kafka_secure`), the secured Elasticsearch
and MinIO (:mod:`shardline.stack.search_security`) each keep a CA and a server certificate
of their own; this module is what they share: issuing, loading, checking that a kept
certificate still serves, and writing keys readable by their owner only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "PrivateKey",
    "certificate_pem",
    "general_name",
    "is_current",
    "issue_certificate",
    "load_ca",
    "private_key_pem",
    "self_signed_ca",
    "subject_alt_names",
    "write_private",
]

#: the key kinds the stack makes: RSA for Kafka's listener, EC P-256 for the others
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
#: a certificate is valid from a little before it is made (clocks a few minutes apart)
BACKDATE = dt.timedelta(minutes=5)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only: written to a new file created 0600, then
    moved over ``path``, so the file is never wider, not even an older one's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    partial.replace(path)


def private_key_pem(key: PrivateKey) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def general_name(host: str) -> x509.GeneralName:
    """``host`` as a subject alternative name: an IP address, else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def subject_alt_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """``localhost`` and each of ``hosts``, each once, in that order."""
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    names += [general_name(host) for host in hosts]
    return list(dict.fromkeys(names))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def self_signed_ca(
    key: PrivateKey, *, common_name: str, days: int, digital_signature: bool
) -> x509.Certificate:
    """A CA certificate for ``key``, signed by itself, valid ``days``; it signs certificates
    and CRLs (and, with ``digital_signature``, data)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=digital_signature,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     key_cert_sign=True, crl_sign=True, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip


def issue_certificate(
    key: PrivateKey,
    *,
    common_name: str,
    names: Sequence[x509.GeneralName],
    usages: Sequence[x509.ObjectIdentifier],
    days: int,
    ca_key: PrivateKey,
    ca: x509.Certificate,
) -> x509.Certificate:
    """A certificate for ``key`` (not a CA) signed by ``ca``: ``names`` as its subject
    alternative names, ``usages`` its extended key usages, valid ``days``."""
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip


def load_ca(cert_path: Path, key_path: Path) -> tuple[PrivateKey, x509.Certificate]:
    """A kept CA: its key (RSA or EC, as this module makes them) and its certificate."""
    ca = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey), key_path
    return key, ca


def is_current(
    cert: x509.Certificate,
    ca: x509.Certificate,
    names: Sequence[x509.GeneralName],
    renew_before: dt.timedelta,
) -> bool:
    """Whether a kept certificate still serves: issued by ``ca``, naming every one of
    ``names``, and not expiring within ``renew_before``."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return (cert.issuer == ca.subject and _now() < cert.not_valid_after_utc - renew_before
            and all(name in list(sans) for name in names))  # fmt: skip
