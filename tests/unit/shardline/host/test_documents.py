"""What an agent sends for delivery never carries Faust's ``__faust`` metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import faust
import pytest

from ground.errors import ConfigError
from ground.settings import Settings
from shardline.host import Document, HostApp, carries_metadata


class Report(Document):
    ticker: str
    trades: int


class Inner(Document):
    n: int


class Outer(Document):
    inner: Inner


class FaustRecord(faust.Record):  # Faust's default: include_metadata=True
    ticker: str


@pytest.fixture
def app(tmp_path: Path) -> HostApp:
    return HostApp("docs", Settings.from_env({"SHARDLINE_HOME": str(tmp_path)}))


def payload(app: HostApp, value: Any, **topic: Any) -> Any:
    data, _headers = app.document_topic("reports", **topic).prepare_value(value, "json")
    return json.loads(data)


def test_a_document_is_plain_json(app: HostApp) -> None:
    assert payload(app, Report(ticker="AMZN", trades=3), value_type=Report) == {
        "ticker": "AMZN", "trades": 3}
    assert payload(app, Outer(inner=Inner(n=1)), value_type=Outer) == {"inner": {"n": 1}}
    assert payload(app, {"ticker": "AMZN"}) == {"ticker": "AMZN"}
    assert not carries_metadata(Report) and carries_metadata(FaustRecord)
    # the guard is what keeps this out: Faust's own default adds the key
    assert "__faust" in json.loads(FaustRecord(ticker="A").dumps(serializer="json"))


def test_a_record_type_with_metadata_is_refused_when_declared(app: HostApp) -> None:
    with pytest.raises(ConfigError, match="value_type: FaustRecord serializes with Faust's"):
        app.document_topic("reports", value_type=FaustRecord)


@pytest.mark.parametrize("value", [
    FaustRecord(ticker="A"),
    {"ticker": "A", "__faust": {"ns": "x"}},
    {"nested": {"__faust": {"ns": "x"}}},
], ids=["faust-record", "mapping", "nested"])
def test_a_value_with_metadata_is_refused_when_sent(app: HostApp, value: Any) -> None:
    with pytest.raises(ConfigError, match="holds Faust's '__faust' key"):
        payload(app, value)


def test_a_string_naming_the_key_is_not_metadata(app: HostApp) -> None:
    assert payload(app, {"note": '"__faust"'}) == {"note": '"__faust"'}


def test_document_topics_are_created_at_start(app: HostApp, monkeypatch: Any) -> None:
    created: list[tuple[Any, list[str], int]] = []
    monkeypatch.setattr("shardline.host.app.ensure_topics",
                        lambda kafka, topics, n: created.append((kafka, list(topics), n)))
    app.document_topic("reports", partitions=4)
    app.document_topic("alerts")
    app._create_document_topics()
    kafka = app.settings.kafka
    assert created == [(kafka, ["reports"], 4), (kafka, ["alerts"], 1)]
