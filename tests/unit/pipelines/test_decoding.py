import json

import pytest

from ground.errors import CodecError
from pipelines.decoding import decoder_for
from pipelines.ticker import parse_ticker
from schemas import codec_for

GOOD = {
    "ticker_symbol": "AMZN",
    "sector": "TECHNOLOGY",
    "change": -0.5,
    "price": 101.25,
    "event_time_ms": 1_700_000_000_123,
}


@pytest.mark.parametrize("fmt", ["json", "avro"])
def test_auto_decodes_both_formats(fmt: str) -> None:
    raw = codec_for(fmt, "ticker").encode(GOOD)
    rec = parse_ticker(decoder_for("auto", "ticker")(raw), raw)
    assert (rec.ticker_symbol, rec.price, rec.event_time_ms) == ("AMZN", 101.25, 1_700_000_000_123)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json{",
        b"[1,2]",
        json.dumps({**GOOD, "price": "12"}).encode(),
        b"\x00\x00\x00\x00\x63abc",
        b"",
    ],
)
def test_malformed_records_raise_codec_error_with_raw_bytes(raw: bytes) -> None:
    with pytest.raises(CodecError) as info:
        value = decoder_for("auto", "ticker")(raw)
        parse_ticker(value, raw)
    assert info.value.raw == raw
    assert info.value.reason
