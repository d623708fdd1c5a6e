import logging

from shardline.producer.producer import _LIBRDKAFKA_LOG


def _emit(level: int, msg: str) -> list[logging.LogRecord]:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    _LIBRDKAFKA_LOG.addHandler(handler)
    old = _LIBRDKAFKA_LOG.level
    _LIBRDKAFKA_LOG.setLevel(logging.WARNING)
    try:
        _LIBRDKAFKA_LOG.log(level, msg)
    finally:
        _LIBRDKAFKA_LOG.removeHandler(handler)
        _LIBRDKAFKA_LOG.setLevel(old)
    return seen


def test_transient_coordinator_retries_are_not_warnings() -> None:
    msg = "GETPID [p] Failed to acquire idempotence PID: Coordinator load in progress: retrying"
    assert _emit(logging.WARNING, msg) == []


def test_real_warnings_still_warn() -> None:
    (record,) = _emit(logging.WARNING, "Delivery failed: Broker: Message size too large")
    assert record.levelno == logging.WARNING
