"""What a Kafka connection failure means, in one line naming the setting to fix.

librdkafka reports connection trouble through the client's ``error_cb``, its ``logger``
(the detailed ``FAIL`` lines) and the exceptions of calls that time out.
:class:`ConnectionProblems` collects those reports while a client waits for the cluster
and turns them into Shardline errors:

* the broker refused the SASL credentials → :class:`~ground.errors.KafkaSecurityError`
  naming where ``sasl.username``/``sasl.password`` are set, at once (no point waiting);
* the broker's certificate is not trusted → :class:`~ground.errors.KafkaSecurityError`
  naming ``ssl.ca.location``'s setting, at once;
* the broker does not offer the SASL mechanism → the same, naming ``sasl.mechanism``;
* nothing answered in time → :class:`~ground.errors.KafkaUnreachableError` (transient: a
  worker waits for it at start-up) with librdkafka's last reason; when that points at the
  wrong protocol for the listener, a :class:`~ground.errors.BrokerUnavailableError` with a
  hint at ``security.protocol`` (permanent).

Messages pass through :meth:`KafkaConfig.redact`, so no secret's value can be shown.
"""

from __future__ import annotations

import logging
import re

from confluent_kafka import KafkaError

from ground.errors import BrokerUnavailableError, KafkaSecurityError, KafkaUnreachableError
from ground.kafka_config import BOOTSTRAP_VARIABLE, KafkaConfig

__all__ = ["ConnectionProblems"]

REASON_MAX_CHARS = 240

_AUTH_CODES = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
_AUTH_TEXT = ("SASL authentication error", "Authentication failed")
_UNTRUSTED_TEXT = ("certificate verify failed", "could not be verified")
_MECHANISM_TEXT = ("Unsupported SASL mechanism", "UNSUPPORTED_SASL_MECHANISM")
#: librdkafka's words when a client speaks the wrong protocol to a listener
_PROTOCOL_TEXT = ("requesting ApiVersion", "state APIVERSION_QUERY", "wrong version number",
                  "packet length too long", "Invalid response size", "unexpected eof",
                  "connecting to a PLAINTEXT broker listener")
#: reports that say nothing of why (a detailed one is shown instead when there is one)
_GENERIC_CODES = {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._TIMED_OUT}
_THREAD = re.compile(r"^\[thrd:[^\]]*\]:\s*")
_BROKER = re.compile(r"^(?:[a-z_]+://)?[^\s/]+/(?:bootstrap|\d+):\s*")
_AFTER = re.compile(
    r"\s*\(after \d+ms in state [A-Z_]+(?:, \d+ identical error\(s\) suppressed)?\)\s*$")
_ADVICE = re.compile(r":\s*broker certificate could not be verified.*$")


def _text(error: object) -> str:
    return error.str() if isinstance(error, KafkaError) else str(error)


def _code(error: object) -> int | None:
    return error.code() if isinstance(error, KafkaError) else None


class ConnectionProblems:
    """librdkafka's reports about one client's connections to ``kafka``."""

    def __init__(self, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self.reports: list[object] = []

    def add(self, error: object) -> None:
        """An ``error_cb`` (called on librdkafka's thread: only appends)."""
        self.reports.append(error)

    def log(self, level: int, _fmt: str, *args: object) -> None:
        """A librdkafka ``logger`` (``level`` as in :mod:`logging`; ``args`` facility,
        client name, message): keeps warnings, errors and the ``FAIL`` lines that say why a
        connection failed; drops the rest."""
        if args and (level >= logging.WARNING or args[0] == "FAIL"):
            self.reports.append(str(args[-1]))

    def _reason(self, error: object) -> str:
        text = " ".join(self.kafka.redact(_text(error)).split())
        text = _AFTER.sub("", _BROKER.sub("", _THREAD.sub("", text)))
        text = _ADVICE.sub("", text)  # the advice is ours, in the message
        return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 1] + "…"

    def raise_if_fatal(self) -> None:
        """Raise KafkaSecurityError if a report says retrying cannot help."""
        kafka = self.kafka
        for error in list(self.reports):
            text = _text(error)
            if any(t in text for t in _MECHANISM_TEXT):
                setting = kafka.origin("sasl.mechanism")
                raise KafkaSecurityError(
                    f"Kafka at {kafka.bootstrap} does not offer the SASL mechanism "
                    f"{kafka.sasl_mechanism} ({self._reason(error)}): check {setting}",
                    setting=setting,
                )
            if _code(error) in _AUTH_CODES or any(t in text for t in _AUTH_TEXT):
                raise self._refused(error)
            if any(t in text for t in _UNTRUSTED_TEXT):
                setting = kafka.origin("ssl.ca.location")
                now = kafka.get("ssl.ca.location")
                raise KafkaSecurityError(
                    f"Kafka at {kafka.bootstrap}: the broker's TLS certificate is not trusted "
                    f"({self._reason(error)}): set {setting} to the CA certificate that "
                    f"signed it" + (f" (now {now})" if now else ""),
                    setting=setting,
                )

    def _refused(self, error: object) -> KafkaSecurityError:
        kafka = self.kafka
        if kafka.oauth is not None:
            setting = kafka.origin("sasl.mechanism")
            what = "the AWS credentials (AWS_* variables, profile or role) and " \
                   "SHARDLINE_KAFKA_AWS_REGION"
        elif kafka.sasl_mechanism == "OAUTHBEARER":
            setting = kafka.origin("sasl.oauthbearer.client.secret")
            what = f"{kafka.origin('sasl.oauthbearer.client.id')} and {setting}"
        else:
            setting = kafka.origin("sasl.password")
            what = f"{kafka.origin('sasl.username')} and {setting}"
        return KafkaSecurityError(
            f"Kafka at {kafka.bootstrap} refused the {kafka.sasl_mechanism} credentials "
            f"({self._reason(error)}): check {what}",
            setting=setting,
        )

    def unavailable(self, timeout_s: float) -> BrokerUnavailableError:
        """The error for a cluster that did not answer within ``timeout_s``: a
        :class:`~ground.errors.KafkaUnreachableError` (transient: worth waiting for at
        start-up), or, when librdkafka's reports point at the wrong protocol for the
        listener, a plain BrokerUnavailableError (waiting cannot help)."""
        kafka = self.kafka
        last = next((e for e in reversed(self.reports) if _code(e) not in _GENERIC_CODES
                     and not isinstance(e, KafkaError)), None)
        last = last if last is not None else (self.reports[-1] if self.reports else None)
        message = f"no Kafka broker answered at {kafka.bootstrap} within {timeout_s:.0f}s"
        reason = self._reason(last) if last is not None else f"no answer in {timeout_s:.0f}s"
        if last is not None:
            message += f" ({reason})"
        if any(t in _text(e) for e in self.reports for t in _PROTOCOL_TEXT):
            message += (f"; is {kafka.origin('security.protocol')} (now "
                        f"{kafka.security_protocol}) the protocol of this listener?")
            return BrokerUnavailableError(message)
        message += f"; start one with `shardline stack up` or set {BOOTSTRAP_VARIABLE}"
        return KafkaUnreachableError(message, endpoint=kafka.bootstrap, reason=reason)
