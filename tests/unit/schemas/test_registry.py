"""The schema registry client wrapper: caching, unknown ids, errors that are no record's."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import SchemaReference

from ground.errors import CodecError, SchemaRegistryError
from ground.settings import Secret, Settings
from schemas import RegistryConfig, SchemaRegistry
from schemas._registry import UNKNOWN_ID_TTL_MS
from tests.unit.fakes import ManualClock
from tests.unit.schemas.fake_registry import TICKER_V1, FakeClient

CONFIG = RegistryConfig("http://registry.invalid:8081", user="svc", password=Secret("s3cr3t-pw"))


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000)


@pytest.fixture
def registry(client: FakeClient, clock: ManualClock) -> SchemaRegistry:
    return SchemaRegistry(CONFIG, client=client, clock_ms=clock)


def test_config_from_settings_and_for_the_client(tmp_path) -> None:
    assert RegistryConfig.from_settings(Settings.from_env({})) is None
    settings = Settings.from_env({
        "SHARDLINE_SCHEMA_REGISTRY_URL": "https://sr.example:8081/apis/ccompat/v7/",
        "SHARDLINE_SCHEMA_REGISTRY_USER": "svc",
        "SHARDLINE_SCHEMA_REGISTRY_PASSWORD": "s3cr3t-pw",
        "SHARDLINE_SCHEMA_REGISTRY_CA": str(tmp_path / "ca.pem"),
    })
    config = RegistryConfig.from_settings(settings)
    assert config is not None and config.url == "https://sr.example:8081/apis/ccompat/v7"
    conf = config.client_config()
    assert conf["basic.auth.user.info"] == "svc:s3cr3t-pw"
    assert conf["ssl.ca.location"] == str(tmp_path / "ca.pem")
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in repr(settings)


def test_a_schema_by_id_is_asked_once(registry: SchemaRegistry, client: FakeClient) -> None:
    sid = client.add("ticker-value", TICKER_V1)
    first = registry.by_id(sid)
    assert registry.by_id(sid) is first
    assert client.calls["get_schema"] == 1
    assert first.name == "shardline.schemas.Ticker" and first.id == sid
    assert json.loads(first.text) == TICKER_V1


def test_an_unknown_id_is_a_record_error_remembered_for_a_while(
    registry: SchemaRegistry, client: FakeClient, clock: ManualClock
) -> None:
    with pytest.raises(CodecError, match="unknown schema id 100: not in the schema registry"):
        registry.by_id(100)
    client.add("ticker-value", TICKER_V1)  # now 100 exists
    clock.now += UNKNOWN_ID_TTL_MS - 1
    with pytest.raises(CodecError, match="unknown schema id 100"):
        registry.by_id(100)
    assert client.calls["get_schema"] == 1
    clock.now += 1
    assert registry.by_id(100).id == 100
    assert client.calls["get_schema"] == 2


def test_a_schema_that_is_not_avro_is_a_record_error(
    registry: SchemaRegistry, client: FakeClient
) -> None:
    sid = client.add("x-value", 'syntax = "proto3"; message X {}', schema_type="PROTOBUF")
    with pytest.raises(CodecError, match=f"schema id {sid} is a PROTOBUF schema, not Avro"):
        registry.by_id(sid)
    bad = client.add("y-value", '"string"')
    with pytest.raises(CodecError, match="not an Avro record schema"):
        registry.by_id(bad)


def test_registry_down_is_not_a_record_error(registry: SchemaRegistry, client: FakeClient):
    client.down = True
    with pytest.raises(SchemaRegistryError) as info:
        registry.by_id(1)
    assert not isinstance(info.value, CodecError)
    assert "registry.invalid:8081 did not answer" in str(info.value)
    assert "s3cr3t" not in str(info.value)


def test_refused_credentials_name_the_settings_not_the_password(
    registry: SchemaRegistry, client: FakeClient
) -> None:
    client.refuse = True
    with pytest.raises(SchemaRegistryError) as info:
        registry.register("ticker-value", json.dumps(TICKER_V1))
    message = str(info.value)
    assert info.value.status == 401 and "SHARDLINE_SCHEMA_REGISTRY_PASSWORD" in message
    assert "s3cr3t" not in message


def test_register_once_per_subject_and_schema(registry: SchemaRegistry, client: FakeClient):
    text = json.dumps(TICKER_V1)
    sid = registry.register("a-value", text)
    assert registry.register("a-value", text) == sid
    assert client.calls["register_schema"] == 1
    assert registry.by_id(sid).canonical == registry.latest("a-value").canonical  # type: ignore[union-attr]


def test_an_incompatible_schema_is_refused(registry: SchemaRegistry, client: FakeClient):
    client.incompatible.add("a-value")
    with pytest.raises(SchemaRegistryError, match=r"could not register .*incompatible") as info:
        registry.register("a-value", json.dumps(TICKER_V1))
    assert info.value.status == 409


def test_latest_of_an_unknown_subject_is_none(registry: SchemaRegistry) -> None:
    assert registry.latest("nope") is None


def test_references_are_read_for_named_types(registry: SchemaRegistry, client: FakeClient):
    money = {"type": "record", "name": "Money", "namespace": "shop",
             "fields": [{"name": "cents", "type": "long"}]}
    client.add("shop.Money", money)
    order = {"type": "record", "name": "Order", "namespace": "shop",
             "fields": [{"name": "id", "type": "string"}, {"name": "total", "type": "shop.Money"}]}
    sid = client.add("orders-value", order,
                     references=[SchemaReference("shop.Money", "shop.Money", 1)])
    writer = registry.by_id(sid)
    assert writer.name == "shop.Order"
    assert client.calls["get_version"] == 1
