"""The deployment's Kafka security, for Faust's own clients (the consumer of user agents).

Shardline's clients are confluent-kafka (librdkafka) and read ``settings.kafka``
(``docs/kafka.md``). Faust's are aiokafka: :func:`faust_credentials` gives them the same
cluster access, translated from the librdkafka properties:

============================================  ==============================================
librdkafka                                    Faust / aiokafka
============================================  ==============================================
``security.protocol`` PLAINTEXT               no credentials
SSL                                           ``SSLCredentials`` with an ``ssl.SSLContext``
SASL_PLAINTEXT / SASL_SSL, ``sasl.mechanism``  ``SASLCredentials`` (``sasl.username``,
PLAIN, SCRAM-SHA-256, SCRAM-SHA-512           ``sasl.password``; the context with SASL_SSL)
SASL ``AWS_MSK_IAM`` (Shardline's signer)     ``OAuthCredentials`` whose token is the signer's
``ssl.ca.location``                           the context's trusted CAs (a file or a folder)
``ssl.certificate.location``, ``ssl.key.*``   the context's client certificate (mutual TLS)
``ssl.endpoint.identification.algorithm``     ``none``: the host name is not checked
``enable.ssl.certificate.verification``       ``false``: the certificate is not checked
============================================  ==============================================

What aiokafka cannot do the way librdkafka does is refused when the host starts Faust's
clients, naming the setting: GSSAPI (Kerberos), OAUTHBEARER with librdkafka's own OIDC
client, PKCS#12 keystores and inline PEM keys. Only hosts with user agents start them.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable

from aiokafka.abc import AbstractTokenProvider
from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from ground.errors import ConfigError
from ground.kafka_config import KafkaConfig

__all__ = ["faust_credentials", "ssl_context"]

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: librdkafka properties aiokafka has no counterpart for (refused rather than ignored).
UNSUPPORTED = {
    "ssl.keystore.location": "a PKCS#12 keystore: give ssl.certificate.location and "
                             "ssl.key.location (PEM) instead",
    "ssl.key.pem": "an inline PEM key: give ssl.key.location instead",
    "ssl.certificate.pem": "an inline PEM certificate: give ssl.certificate.location instead",
    "ssl.ca.pem": "an inline PEM CA: give ssl.ca.location instead",
}


def faust_credentials(kafka: KafkaConfig) -> CredentialsT | None:
    """Faust's ``broker_credentials`` for the cluster ``kafka`` describes (None: PLAINTEXT)."""
    for name, hint in UNSUPPORTED.items():
        if kafka.get(name):
            raise _refused(kafka, name, hint)
    protocol = kafka.security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol not in ("SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise _refused(kafka, "security.protocol", f"unknown protocol {protocol}")
    context = ssl_context(kafka) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return SSLCredentials(context)
    mechanism = kafka.sasl_mechanism
    if kafka.oauth is not None:
        return OAuthCredentials(oauth_cb=_SignerToken(kafka.oauth), ssl_context=context)
    if mechanism not in SASL_MECHANISMS:
        raise _refused(kafka, "sasl.mechanism",
                       f"{mechanism}: aiokafka takes {', '.join(SASL_MECHANISMS)} or AWS_MSK_IAM")
    return SASLCredentials(username=kafka.get("sasl.username"),
                           password=kafka.get("sasl.password"),
                           ssl_context=context, mechanism=mechanism)


def ssl_context(kafka: KafkaConfig) -> ssl.SSLContext:
    """A TLS client context from librdkafka's ``ssl.*`` properties."""
    ca = kafka.get("ssl.ca.location")
    try:
        if ca and ca != "probe":
            folder = os.path.isdir(ca)
            context = ssl.create_default_context(
                capath=ca if folder else None, cafile=None if folder else ca)
        else:
            context = ssl.create_default_context()
        if kafka.get("enable.ssl.certificate.verification", "true").lower() == "false":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif kafka.get("ssl.endpoint.identification.algorithm", "https").lower() == "none":
            context.check_hostname = False
        cert = kafka.get("ssl.certificate.location")
        if cert:
            context.load_cert_chain(cert, kafka.get("ssl.key.location") or None,
                                    kafka.get("ssl.key.password") or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(kafka.origin("ssl.ca.location" if not kafka.get(
            "ssl.certificate.location") else "ssl.certificate.location"),
            f"cannot build a TLS context for Faust's Kafka client: {exc}") from None
    return context


def _refused(kafka: KafkaConfig, name: str, why: str) -> ConfigError:
    return ConfigError(kafka.origin(name),
                       f"Faust's Kafka client (aiokafka, for user agents) cannot use {why}")


class _SignerToken(AbstractTokenProvider):
    """aiokafka's token provider from librdkafka's ``oauth_cb`` (the MSK IAM signer)."""

    def __init__(self, sign: Callable[[str | None], tuple[str, float]]) -> None:
        self.sign = sign

    async def token(self) -> str:
        token, _expiry_s = await asyncio.to_thread(self.sign, None)
        return token
