"""The sections every destination has (``buffering``, ``retry``), in Shardline's names and in
Firehose's."""

from __future__ import annotations

import pytest

from connectors import DeliveryConfig
from connectors.core import BufferingHints, RetryOptions, Section
from connectors.core.section import read_buffering, read_retry
from ground.errors import ConfigError


def s3(**over) -> dict:
    return {"name": "ticks-s3", "topic": "ticks", "s3": {"bucket": "ticks", **over}}


def test_firehose_and_shardline_names() -> None:
    a = DeliveryConfig.from_mapping(s3(buffering={"SizeInMBs": 64, "IntervalInSeconds": 60}))
    b = DeliveryConfig.from_mapping(s3(buffering={"size_mb": 64, "interval_ms": 60_000}))
    assert a.destination.buffering == b.destination.buffering
    small = DeliveryConfig.from_mapping(s3(buffering={"max_records": 10, "interval_ms": 50}))
    assert small.destination.buffering.max_records == 10


def test_buffering_and_retry_read_directly() -> None:
    assert read_buffering(Section(None, "x"), (1, 128, 5)) == BufferingHints()
    assert read_buffering(Section({"size_bytes": 10, "interval_ms": 50}, "x"), (1, 128, 5)) == (
        BufferingHints(size_bytes=10, interval_ms=50))
    assert read_retry(Section(None, "x")) == RetryOptions()
    for spelling in ({"duration_seconds": 2}, {"DurationInSeconds": 2}, {"duration_ms": 2000}):
        assert read_retry(Section(spelling, "r")).duration_ms == 2000
    options = read_retry(Section({"max_attempts": 3, "initial_backoff_ms": 5,
                                  "max_backoff_ms": 50}, "r"))
    assert (options.max_attempts, options.initial_backoff_ms, options.max_backoff_ms) == (3, 5, 50)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"duration_seconds": 1, "duration_ms": 1}, "r.duration_ms", "set only one of"),
    ({"duration_ms": 7_200_001}, "r.duration_ms", "between 0 and 7200000"),
    ({"max_attempts": 0}, "r.max_attempts", "at least 1"),
    ({"initial_backoff_ms": True}, "r.initial_backoff_ms", "expected an integer"),
    ({"max_backoff_ms": 600_001}, "r.max_backoff_ms", "between 1 and 600000"),
    ({"jitter": 1}, "r.jitter", "unknown setting"),
])
def test_retry_errors_name_the_field(data: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        read_retry(Section(data, "r"))
    assert info.value.field == field


def test_a_section_is_a_mapping_or_absent() -> None:
    assert not Section(None, "a").has("b")
    assert Section({"b": None}, "a").has("b")  # present, even when null
    with pytest.raises(ConfigError, match="expected a mapping") as info:
        Section([1], "a")
    assert info.value.field == "a"
    s = Section({"b": {"c": 1}}, "a")
    assert s.section("b").path == "a.b" and s.section("d").data == {}
    with pytest.raises(ConfigError, match="is required"):
        s.string("e")
    assert s.string("e", "x") == "x"
