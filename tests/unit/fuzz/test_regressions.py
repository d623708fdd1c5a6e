"""Failing examples the fuzzer found (tests/fuzz), kept as regression tests."""

from connectors.config import load_deliveries


def test_null_buffering_hint_reads_as_absent() -> None:
    # Was: TypeError (None * MIB) in _buffering, since alias() took a null key as set.
    [es] = load_deliveries({"name": "d", "topic": "t", "elasticsearch": {
        "index": "i", "buffering": {"size_mb": None, "interval_ms": 1000}}})
    assert es.destination.buffering.interval_ms == 1000
    [s3] = load_deliveries({"name": "d", "topic": "t", "s3": {
        "bucket": "bucket", "buffering": {"size_mb": None, "interval_seconds": None}}})
    [default] = load_deliveries({"name": "d", "topic": "t", "s3": {"bucket": "bucket"}})
    assert s3.destination.buffering == default.destination.buffering
