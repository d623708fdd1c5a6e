import json

import pytest

from connectors.transform import DeaggregationError, Deaggregator, SubRecordType


def test_json_concatenated_and_newline_separated() -> None:
    d = Deaggregator(SubRecordType.JSON)
    docs = [{"a": 1}, {"b": "x}{"}, [1, 2], {"c": {"d": None}}]
    value = (json.dumps(docs[0]) + json.dumps(docs[1]) + "\n  " + json.dumps(docs[2])
             + "\r\n" + json.dumps(docs[3]) + "\n").encode()
    parts = d.split(value)
    assert [json.loads(p) for p in parts] == docs


def test_json_single_object_is_itself() -> None:
    assert Deaggregator().split(b'{"a": 1}') == [b'{"a": 1}']


@pytest.mark.parametrize("value", [b'{"a": 1}{"b"', b"not json", b"", b"  \n", b"\xff\xfe"])
def test_json_failures(value: bytes) -> None:
    with pytest.raises(DeaggregationError):
        Deaggregator().split(value)


def test_delimited_with_custom_delimiter_and_trailing_delimiter() -> None:
    d = Deaggregator(SubRecordType.DELIMITED, b"||")
    assert d.split(b"a||b||||c||") == [b"a", b"b", b"", b"c"]
    assert d.split(b"abc") == [b"abc"]
    assert d.split(b"") == []


def test_empty_delimiter_is_refused() -> None:
    with pytest.raises(ValueError):
        Deaggregator(SubRecordType.DELIMITED, b"")
