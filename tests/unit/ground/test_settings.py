import pytest

import shardline
from ground.errors import ConfigError, ShardlineError
from ground.settings import Secret, Settings, s3_stack_ca


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


# -- S3 addressing and credentials, search security -------------------------------------------

def test_an_empty_s3_endpoint_is_aws_in_the_region() -> None:
    s = Settings.from_env({"SHARDLINE_S3_ENDPOINT": "", "SHARDLINE_S3_REGION": "eu-central-1"})
    assert s.s3_endpoint == "https://s3.eu-central-1.amazonaws.com" and s.s3_port == 443
    china = Settings.from_env({"SHARDLINE_S3_ENDPOINT": "aws", "SHARDLINE_S3_REGION": "cn-north-1"})
    assert china.s3_endpoint == "https://s3.cn-north-1.amazonaws.com.cn"
    assert Settings.from_env({}).s3_addressing == "auto"
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"SHARDLINE_S3_ADDRESSING": "dns"})
    assert info.value.field == "SHARDLINE_S3_ADDRESSING"


def test_s3_credential_settings_are_read() -> None:
    s = Settings.from_env({"SHARDLINE_S3_CREDENTIALS": "chain", "SHARDLINE_S3_PROFILE": "etl",
                           "SHARDLINE_S3_ROLE_ARN": "arn:aws:iam::1:role/w"})
    assert (s.s3_auth.source, s.s3_auth.profile) == ("chain", "etl")
    assert s.s3_auth.role is not None and s.s3_auth.role.role_arn == "arn:aws:iam::1:role/w"
    token = Settings.from_env({"SHARDLINE_S3_SESSION_TOKEN": "FwoGZXIvYXdzEJr"})
    assert "FwoGZXIvYXdzEJr" not in repr(token)


def test_the_secured_stack_defaults_to_https_basic_auth_and_its_ca(tmp_path) -> None:
    home = {"SHARDLINE_HOME": str(tmp_path), "SHARDLINE_STACK_SECURE": "1"}
    s = Settings.from_env(home)
    assert s.stack_secure and s.search_url == "https://127.0.0.1:19200"
    assert (s.search_auth.method, s.search_auth.username) == ("basic", "shardline")
    assert s.search_auth.ca_bundle is None  # the stack has not made its CA yet
    ca = s.search_stack_ca
    ca.parent.mkdir(parents=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings.from_env(home).search_auth.ca_bundle == ca
    keyed = Settings.from_env({**home, "SHARDLINE_SEARCH_API_KEY": "a2V5"})
    assert keyed.search_auth.method == "api_key"  # a credential given: no default user
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**home, "SHARDLINE_SEARCH_URL": "http://127.0.0.1:19200"})
    assert info.value.field == "SHARDLINE_SEARCH_URL"
    assert not Settings.from_env({"SHARDLINE_STACK_SECURE": "0"}).stack_secure


def test_s3_ca_bundle_and_the_secured_stacks_https_minio(tmp_path) -> None:
    assert Settings.from_env({}).s3_ca_bundle is None  # the system's CAs
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings.from_env({"SHARDLINE_S3_CA_BUNDLE": str(bundle)}).s3_ca_bundle == bundle
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"SHARDLINE_S3_CA_BUNDLE": str(tmp_path / "missing.pem")})
    assert info.value.field == "SHARDLINE_S3_CA_BUNDLE"
    home = {"SHARDLINE_HOME": str(tmp_path / "home"), "SHARDLINE_STACK_SECURE": "1"}
    s = Settings.from_env(home)
    assert s.s3_endpoint == "https://127.0.0.1:19000" and s.s3_ca_bundle is None
    ca = s3_stack_ca(s.home)
    ca.parent.mkdir(parents=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings.from_env(home).s3_ca_bundle == ca
    explicit = Settings.from_env({**home, "SHARDLINE_S3_ENDPOINT": "http://127.0.0.1:19000"})
    assert explicit.s3_endpoint == "http://127.0.0.1:19000"  # as set
