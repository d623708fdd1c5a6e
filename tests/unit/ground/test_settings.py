import pytest

import shardline
from ground.errors import ConfigError, ShardlineError
from ground.settings import Secret, Settings


def test_defaults_bind_loopback() -> None:
    s = Settings.from_env({})
    assert s.kafka_bootstrap.startswith("127.0.0.1:")
    assert s.s3_endpoint.startswith("http://127.0.0.1:")
    assert s.search_url.startswith("http://127.0.0.1:")


def test_env_overrides() -> None:
    s = Settings.from_env(
        {"SHARDLINE_KAFKA_BOOTSTRAP": "k1:9092,k2:9092", "SHARDLINE_SEARCH_ENGINE": "OpenSearch"}
    )
    assert s.kafka_bootstrap == "k1:9092,k2:9092"
    assert s.kafka_port == 9092
    assert s.search_engine == "opensearch"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("KAFKA_BOOTSTRAP", "no-port"),
        ("KAFKA_BOOTSTRAP", "host:99999"),
        ("S3_ENDPOINT", "ftp://x"),
        ("SEARCH_ENGINE", "solr"),
        ("S3_SECRET_KEY", "short"),
        ("KAFKA_CONTROLLER_PORT", "abc"),
    ],
)
def test_bad_values_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"SHARDLINE_" + var: value})
    assert info.value.field == "SHARDLINE_" + var


def test_secrets_never_print() -> None:
    s = Settings.from_env({"SHARDLINE_S3_SECRET_KEY": "supersecretvalue"})
    assert "supersecretvalue" not in repr(s)
    assert "supersecretvalue" not in str(s.s3_secret_key)
    assert s.s3_secret_key.reveal() == "supersecretvalue"
    assert Secret("a") == Secret("a")


def test_public_api_is_pinned() -> None:
    assert shardline.__all__ == sorted(shardline.__all__, key=lambda n: (n.startswith("_"), n))
    for name in shardline.__all__:
        assert hasattr(shardline, name)
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, ShardlineError)
