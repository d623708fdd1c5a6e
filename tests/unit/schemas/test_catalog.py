"""Where schemas come from: the user's folder, the registry's subjects, the bundled ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import schemas
from ground.errors import ConfigError
from ground.settings import Settings
from schemas import SchemaCatalog, SchemaSources, catalog_for, default_catalog, use_catalog
from tests.unit.schemas.fake_registry import TICKER_V1, TICKER_V2, FakeClient, catalog_on


def write(folder: Path, name: str, schema: dict | str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = schema if isinstance(schema, str) else json.dumps(schema)
    (folder / f"{name}.avsc").write_text(text)


ORDER = {"type": "record", "name": "Order", "namespace": "acme",
         "fields": [{"name": "id", "type": "string"}, {"name": "cents", "type": "long"}]}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path / "avro", "order", ORDER)
    write(tmp_path / "avro", "ticker", TICKER_V2)  # the user's own ticker shadows the example
    return tmp_path / "avro"


def test_bundled_only() -> None:
    catalog = SchemaCatalog()
    assert catalog.names() == ["clickstream", "ticker", "trade"]
    assert catalog.local_ids() == {"ticker": 1, "clickstream": 2, "trade": 3}
    assert catalog.origin("ticker") == "bundled" and catalog.fixed_id("trade") == 3
    assert catalog.schema("ticker") is catalog.schema("ticker")
    assert catalog.registry is None


def test_the_users_folder_comes_first(folder: Path) -> None:
    catalog = SchemaCatalog(SchemaSources(folder=folder))
    assert catalog.names() == ["clickstream", "order", "ticker", "trade"]
    assert catalog.origin("ticker") == "folder"
    assert [f["name"] for f in catalog.schema("ticker")["fields"]][-1] == "exchange"
    assert catalog.origin("trade") == "bundled"
    # no ids.json: the user's schemas have no fixed id, and the bundled id 1 is not theirs
    assert catalog.fixed_id("order") is None and catalog.fixed_id("ticker") is None
    assert catalog.name_for_local_id(1) is None and catalog.name_for_local_id(2) == "clickstream"


def test_fixed_ids_of_the_users_folder(folder: Path) -> None:
    (folder / "ids.json").write_text('{"order": 40, "ticker": 41}')
    catalog = SchemaCatalog(SchemaSources(folder=folder))
    assert catalog.local_ids() == {"clickstream": 2, "trade": 3, "order": 40, "ticker": 41}
    assert catalog.name_for_local_id(41) == "ticker"


def test_an_id_taken_by_a_bundled_schema_is_refused(folder: Path) -> None:
    (folder / "ids.json").write_text('{"order": 3}')
    with pytest.raises(ConfigError, match=r"SHARDLINE_SCHEMA_DIR/ids.json.*id 3 of 'order' is "
                                          r"already the id of 'trade'"):
        SchemaCatalog(SchemaSources(folder=folder)).local_ids()


def test_folder_errors_name_the_setting_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SHARDLINE_SCHEMA_DIR: .* is not a folder"):
        SchemaCatalog(SchemaSources(folder=tmp_path / "missing"))
    write(tmp_path / "bad", "broken", '{"type": "record", "name": "X", "fields": [{"name": 1}]}')
    write(tmp_path / "bad", "notjson", "{")
    catalog = SchemaCatalog(SchemaSources(folder=tmp_path / "bad"))
    with pytest.raises(ConfigError, match=r"SHARDLINE_SCHEMA_DIR/broken.avsc: not a valid Avro"):
        catalog.schema("broken")
    with pytest.raises(ConfigError, match=r"SHARDLINE_SCHEMA_DIR/notjson.avsc: not a valid Avro"):
        catalog.schema("notjson")
    (tmp_path / "bad" / "ids.json").write_text('{"broken": "one"}')
    with pytest.raises(ConfigError, match=r"ids.json: id of 'broken' is not an int32"):
        SchemaCatalog(SchemaSources(folder=tmp_path / "bad")).local_ids()


def test_registry_subjects_come_after_the_folder_and_before_the_examples(folder: Path):
    client = FakeClient()
    sid = client.add("orders-value", ORDER)
    client.add("clickstream", TICKER_V1)  # a subject named like an example wins over it
    catalog = catalog_on(client, folder=folder)
    assert catalog.origin("orders-value") == "registry"
    assert catalog.fixed_id("orders-value") == sid
    assert catalog.schema("orders-value")["name"] == "acme.Order"
    assert catalog.origin("clickstream") == "registry"
    assert catalog.origin("ticker") == "folder" and catalog.origin("trade") == "bundled"
    catalog.schema("orders-value")
    assert client.calls["get_latest_version"] == 3  # orders-value, clickstream, trade: once


def test_an_unknown_name_says_where_it_was_looked_for(folder: Path) -> None:
    catalog = catalog_on(FakeClient(), folder=folder)
    with pytest.raises(ConfigError) as info:
        catalog.schema("nope")
    message = str(info.value)
    assert message.startswith("schema: unknown schema 'nope'; known: clickstream, order, ticker")
    assert str(folder) in message and "registry.invalid" in message


def test_catalog_for_settings_is_shared_and_the_default_can_be_swapped(folder: Path) -> None:
    settings = Settings.from_env({"SHARDLINE_SCHEMA_DIR": str(folder)})
    catalog = catalog_for(settings)
    assert catalog is catalog_for(Settings.from_env({"SHARDLINE_SCHEMA_DIR": str(folder)}))
    assert catalog_for(Settings.from_env({})) is default_catalog()
    previous = use_catalog(catalog)
    try:
        assert schemas.schema_names() == ["clickstream", "order", "ticker", "trade"]
        assert schemas.load_schema("order")["name"] == "acme.Order"
        with pytest.raises(ConfigError, match="schema 'order' has no id"):
            schemas.schema_id("order")
    finally:
        use_catalog(previous)
    assert schemas.schema_names() == ["clickstream", "ticker", "trade"]
