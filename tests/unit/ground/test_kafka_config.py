"""ground.kafka_config: every Kafka client's configuration from the settings, the variables
and a properties file; secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from ground.errors import ConfigError
from ground.kafka_config import (
    IGNORED_JAVA_PROPERTIES,
    SETTING_NAMES,
    KafkaConfig,
    consumer_fetch_config,
    is_secret,
    property_name,
    variable_name,
)
from ground.secret import Secret
from ground.settings import DEFAULTS, Settings

PASSWORD = "pa55-w0rd-never-shown"
BOOT = "SHARDLINE_KAFKA_BOOTSTRAP"


def load(env: dict[str, str]) -> KafkaConfig:
    return KafkaConfig.from_env(env, default_bootstrap="127.0.0.1:19092")


def sasl_env(**extra: str) -> dict[str, str]:
    return {
        "SHARDLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SHARDLINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SHARDLINE_KAFKA_SASL_USERNAME": "alice",
        "SHARDLINE_KAFKA_SASL_PASSWORD": PASSWORD,
        **extra,
    }


@pytest.mark.parametrize(("suffix", "prop"), [
    ("SECURITY_PROTOCOL", "security.protocol"),
    ("SASL_MECHANISM", "sasl.mechanism"),
    ("SSL_CA_LOCATION", "ssl.ca.location"),
    ("SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "ssl.endpoint.identification.algorithm"),
    ("SASL_OAUTHBEARER_CLIENT_SECRET", "sasl.oauthbearer.client.secret"),
    ("LOG__LEVEL", "log_level"),
    ("SOME___DASHED", "some-dashed"),
])
def test_variable_names_map_to_properties_and_back(suffix: str, prop: str) -> None:
    assert property_name(suffix) == prop
    assert variable_name(prop) == "SHARDLINE_KAFKA_" + suffix


def test_the_settings_under_the_prefix_are_not_properties() -> None:
    kafka_settings = {k.removeprefix("KAFKA_") for k in DEFAULTS if k.startswith("KAFKA_")}
    assert kafka_settings == SETTING_NAMES
    config = load({BOOT: "k:1", "SHARDLINE_KAFKA_CONTROLLER_PORT": "2",
                   "SHARDLINE_KAFKA_SECURE_PORT": "3", "SHARDLINE_KAFKA_AWS_REGION": "x"})
    assert config.properties == () and config.bootstrap == "k:1"


def test_variables_become_properties_and_secrets_stay_secret() -> None:
    config = load(sasl_env(SHARDLINE_KAFKA_CLIENT_ID="me", SHARDLINE_KAFKA_SSL_KEY_PASSWORD="kp",
                           SHARDLINE_KAFKA_SOCKET_TIMEOUT_MS=""))  # empty: ignored
    conf = config.client_config()
    assert conf == {
        "bootstrap.servers": "127.0.0.1:19092", "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice",
        "sasl.password": PASSWORD, "client.id": "me", "ssl.key.password": "kp",
    }
    values = {p.name: p.value for p in config.properties}
    assert isinstance(values["sasl.password"], Secret) and values["sasl.password"] == Secret(
        PASSWORD)
    assert isinstance(values["ssl.key.password"], Secret)
    assert values["sasl.username"] == "alice"
    for shown in (repr(config), str(config), config.describe(), str(config.redacted()),
                  repr(Settings.from_env(sasl_env()))):
        assert PASSWORD not in shown and "kp" not in shown.replace("kp'", "")
        assert "sasl.password=***" in shown or "'sasl.password': '***'" in shown
    assert config.origin("sasl.password") == "SHARDLINE_KAFKA_SASL_PASSWORD"
    assert config.origin("ssl.ca.location") == "SHARDLINE_KAFKA_SSL_CA_LOCATION"  # not set


def test_secret_names() -> None:
    for name in ("sasl.password", "ssl.key.password", "ssl.keystore.password",
                 "sasl.oauthbearer.client.secret", "sasl.jaas.config", "ssl.key.pem"):
        assert is_secret(name), name
    for name in ("sasl.username", "ssl.ca.location", "security.protocol"):
        assert not is_secret(name), name


def test_client_settings_win_over_properties_which_win_over_tuning() -> None:
    config = load({"SHARDLINE_KAFKA_ISOLATION_LEVEL": "read_uncommitted",
                   "SHARDLINE_KAFKA_FETCH_QUEUE_BACKOFF_MS": "5"})
    conf = config.client_config({"isolation.level": "read_committed", "group.id": "g"},
                                tuning=consumer_fetch_config())
    assert conf["isolation.level"] == "read_committed"  # what exactly-once needs
    assert conf["fetch.queue.backoff.ms"] == "5"  # the deployment's tuning
    assert conf["queued.max.messages.kbytes"] == 32 * 1024  # ours, not overridden
    assert conf["group.id"] == "g" and conf["bootstrap.servers"] == "127.0.0.1:19092"


def test_consumer_fetch_config_is_bounded_by_the_prefetch_budget() -> None:
    mib = 1024 * 1024
    assert consumer_fetch_config() == {
        "queued.max.messages.kbytes": 32 * 1024, "fetch.max.bytes": 32 * mib,
        "max.partition.fetch.bytes": mib, "fetch.queue.backoff.ms": 20}
    small = consumer_fetch_config(512 * 1024)
    assert small["max.partition.fetch.bytes"] == small["fetch.max.bytes"] == 512 * 1024
    with pytest.raises(ConfigError):
        consumer_fetch_config(10)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "client.properties"
    path.write_text(text)
    return path


def test_a_properties_file_and_variables_over_it(tmp_path: Path) -> None:
    path = write(tmp_path, (
        "# Kafka --command-config\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanisms: PLAIN\n"  # librdkafka's alias
        f"sasl.username=bob\nsasl.password={PASSWORD}\n"
    ))
    config = load({"SHARDLINE_KAFKA_CONFIG_FILE": str(path),
                   "SHARDLINE_KAFKA_SASL_USERNAME": "carol"})
    conf = config.client_config()
    assert conf["sasl.mechanism"] == "PLAIN" and "sasl.mechanisms" not in conf
    assert conf["sasl.username"] == "carol"  # the variable wins
    assert conf["sasl.password"] == PASSWORD
    assert config.origin("sasl.password") == (
        f"sasl.password in SHARDLINE_KAFKA_CONFIG_FILE ({path}) line 5")
    assert PASSWORD not in repr(config)


def test_a_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load({"SHARDLINE_KAFKA_CONFIG_FILE": str(tmp_path / "nope.properties")})
    assert info.value.field == "SHARDLINE_KAFKA_CONFIG_FILE"


def test_bootstrap_servers_in_the_file_must_agree(tmp_path: Path) -> None:
    path = write(tmp_path, "bootstrap.servers=b1:9092,b2:9092\nclient.id=x\n")
    same = load({"SHARDLINE_KAFKA_CONFIG_FILE": str(path), BOOT: "b2:9092, b1:9092"})
    assert same.bootstrap == "b2:9092, b1:9092"
    assert "bootstrap.servers" not in {p.name for p in same.properties}
    with pytest.raises(ConfigError) as info:
        load({"SHARDLINE_KAFKA_CONFIG_FILE": str(path)})
    assert info.value.field.startswith("bootstrap.servers in SHARDLINE_KAFKA_CONFIG_FILE")
    assert "SHARDLINE_KAFKA_BOOTSTRAP=b1:9092,b2:9092" in str(info.value)


def test_jaas_lines_of_java_clients_are_translated(tmp_path: Path) -> None:
    path = write(tmp_path, (
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"
        f'    username="dave" password="{PASSWORD}";\n'
        "client.dns.lookup=use_all_dns_ips\n"
    ))
    config = load({"SHARDLINE_KAFKA_CONFIG_FILE": str(path)})
    conf = config.client_config()
    assert conf["sasl.username"] == "dave" and conf["sasl.password"] == PASSWORD
    assert "sasl.jaas.config" not in conf
    assert IGNORED_JAVA_PROPERTIES >= {"client.dns.lookup"} and "client.dns.lookup" not in conf
    assert PASSWORD not in repr(config)


def test_unsupported_login_modules_and_java_stores_are_refused_with_a_hint(
    tmp_path: Path
) -> None:
    oauth = write(tmp_path, "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer."
                            f'OAuthBearerLoginModule required clientSecret="{PASSWORD}";\n')
    with pytest.raises(ConfigError) as info:
        load({"SHARDLINE_KAFKA_CONFIG_FILE": str(oauth)})
    assert "sasl.oauthbearer.method=oidc" in str(info.value)
    assert PASSWORD not in str(info.value)
    jks = write(tmp_path, "ssl.truststore.location=/x/truststore.jks\n")
    with pytest.raises(ConfigError) as info:
        load({"SHARDLINE_KAFKA_CONFIG_FILE": str(jks)})
    assert info.value.field.startswith("ssl.truststore.location in")
    assert "ssl.ca.location" in str(info.value)


def test_librdkafka_checks_every_property_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load({"SHARDLINE_KAFKA_BOOTSTRAPS": "typo:9092"})
    assert info.value.field == "SHARDLINE_KAFKA_BOOTSTRAPS"
    with pytest.raises(ConfigError) as info:
        load(sasl_env(SHARDLINE_KAFKA_SECURITY_PROTOCOL="SASL_SSSL"))
    assert info.value.field == "SHARDLINE_KAFKA_SECURITY_PROTOCOL"
    assert PASSWORD not in str(info.value)
    with pytest.raises(ConfigError) as info:
        load(sasl_env(SHARDLINE_KAFKA_SSL_CA_LOCATION=str(tmp_path / "missing-ca.pem")))
    assert info.value.field == "SHARDLINE_KAFKA_SSL_CA_LOCATION"
    path = write(tmp_path, "acks=all\nlinger.ms=not-a-number\n")
    with pytest.raises(ConfigError) as info:
        load({"SHARDLINE_KAFKA_CONFIG_FILE": str(path)})
    assert info.value.field == f"linger.ms in SHARDLINE_KAFKA_CONFIG_FILE ({path}) line 2"


def test_a_bad_bootstrap_names_the_variable() -> None:
    for bad in ("no-port", "h:99999", "h:", ":1"):
        with pytest.raises(ConfigError) as info:
            load({BOOT: bad})
        assert info.value.field == BOOT


def test_redact_hides_secret_values_in_any_text() -> None:
    config = load(sasl_env())
    assert config.redact(f"failed with {PASSWORD}!") == "failed with ***!"


def test_to_env_gives_a_child_process_the_same_configuration(tmp_path: Path) -> None:
    path = write(tmp_path, "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n"
                           f"sasl.username=u\nsasl.password={PASSWORD}\n")
    config = load({"SHARDLINE_KAFKA_CONFIG_FILE": str(path), BOOT: "h:1"})
    again = load(config.to_env())
    assert again.client_config() == config.client_config()
    assert again.bootstrap == "h:1"


def test_settings_hold_the_kafka_configuration() -> None:
    settings = Settings.from_env(sasl_env(SHARDLINE_KAFKA_BOOTSTRAP="k1:9093,k2:9093",
                                          SHARDLINE_STACK_SECURE="1",
                                          SHARDLINE_KAFKA_SECURE_PORT="29094"))
    assert settings.kafka_bootstrap == settings.kafka.bootstrap == "k1:9093,k2:9093"
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert settings.stack_secure and settings.kafka_secure_port == 29094
    assert not Settings.from_env({}).stack_secure
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"SHARDLINE_STACK_SECURE": "maybe"})
    assert info.value.field == "SHARDLINE_STACK_SECURE"
