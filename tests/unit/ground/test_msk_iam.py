"""MSK IAM: SHARDLINE_KAFKA_SASL_MECHANISM=AWS_MSK_IAM gives OAUTHBEARER over TLS with tokens
signed by aws-msk-iam-sasl-signer-python from botocore's credentials (offline: signing a
presigned URL needs no network)."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from confluent_kafka.admin import AdminClient

from ground.errors import ConfigError, KafkaSecurityError
from ground.kafka_config import KafkaConfig
from ground.msk_iam import MskIamTokenProvider

ACCESS_KEY = "AKIDMSKTESTEXAMPLE"
SECRET_KEY = "msk/secret/key/never/shown/EXAMPLE0000"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Credentials in the environment only: no profile files, no instance metadata."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    return {"SHARDLINE_KAFKA_BOOTSTRAP": "b-1.msk.example:9098",
            "SHARDLINE_KAFKA_SASL_MECHANISM": "AWS_MSK_IAM"}


def signed_url(token: str) -> tuple[str, dict[str, list[str]]]:
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


def test_aws_msk_iam_selects_oauthbearer_over_tls(aws_env: dict[str, str]) -> None:
    config = KafkaConfig.from_env({**aws_env, "SHARDLINE_KAFKA_AWS_REGION": "eu-west-1"},
                                  default_bootstrap="x:1")
    assert config.oauth == MskIamTokenProvider(region="eu-west-1")
    conf = config.client_config()
    assert conf["sasl.mechanism"] == "OAUTHBEARER" and conf["security.protocol"] == "SASL_SSL"
    assert conf["oauth_cb"] is config.oauth
    assert config.sasl_mechanism == "AWS_MSK_IAM"
    assert "eu-west-1" in config.describe() and SECRET_KEY not in config.describe()


def test_the_callback_signs_a_token_with_the_environment_credentials(
    aws_env: dict[str, str]
) -> None:
    config = KafkaConfig.from_env({**aws_env, "AWS_REGION": "us-west-2"}, default_bootstrap="x:1")
    assert config.oauth is not None
    before = time.time()
    token, expiry_s = config.oauth("")  # what confluent-kafka passes: sasl.oauthbearer.config
    endpoint, query = signed_url(token)
    assert endpoint == "https://kafka.us-west-2.amazonaws.com/"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    credential = query["X-Amz-Credential"][0].split("/")
    assert credential[0] == ACCESS_KEY and credential[2:4] == ["us-west-2", "kafka-cluster"]
    assert len(query["X-Amz-Signature"][0]) == 64
    assert SECRET_KEY not in token and SECRET_KEY not in signed_url(token)[0]
    assert before + 800 < expiry_s < before + 1000  # 15 minutes, in epoch seconds


def test_a_client_asks_the_callback_for_a_token_at_creation(aws_env: dict[str, str]) -> None:
    config = KafkaConfig.from_env({**aws_env, "SHARDLINE_KAFKA_AWS_REGION": "eu-central-1",
                                   "SHARDLINE_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
                                  default_bootstrap="x:1")
    assert config.oauth is not None
    tokens: list[str] = []

    def recording(oauth_config: str) -> tuple[str, float]:
        token, expiry = config.oauth(oauth_config)  # type: ignore[misc]
        tokens.append(token)
        return token, expiry

    admin = AdminClient(config.client_config({"oauth_cb": recording, "log_level": 0}))
    deadline = time.monotonic() + 5
    while not tokens and time.monotonic() < deadline:
        admin.poll(0.1)
    assert tokens and signed_url(tokens[0])[0] == "https://kafka.eu-central-1.amazonaws.com/"


def test_the_java_clients_msk_file_works_unchanged(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[analytics]\naws_access_key_id = AKIDPROFILEEXAMPLE\n"
                     "aws_secret_access_key = profile/secret/EXAMPLE\n")
    path = tmp_path / "client.properties"
    path.write_text(
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=AWS_MSK_IAM\n"
        'sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required '
        'awsProfileName="analytics";\n'
        "sasl.client.callback.handler.class="
        "software.amazon.msk.auth.iam.IAMClientCallbackHandler\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    config = KafkaConfig.from_env({"SHARDLINE_KAFKA_CONFIG_FILE": str(path),
                                   "AWS_DEFAULT_REGION": "ap-south-1"}, default_bootstrap="x:1")
    assert config.oauth == MskIamTokenProvider(region="ap-south-1", profile="analytics")
    assert set(config.client_config()) == {"bootstrap.servers", "security.protocol",
                                           "sasl.mechanism", "oauth_cb"}
    token, _ = config.oauth("")
    assert signed_url(token)[1]["X-Amz-Credential"][0].startswith("AKIDPROFILEEXAMPLE/")
    again = KafkaConfig.from_env(config.to_env(), default_bootstrap="x:1")
    assert again.oauth == config.oauth


def test_no_region_names_the_setting(aws_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        KafkaConfig.from_env(aws_env, default_bootstrap="x:1")
    assert info.value.field == "SHARDLINE_KAFKA_AWS_REGION"


def test_no_credentials_is_a_clear_error(aws_env: dict[str, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    provider = MskIamTokenProvider(region="eu-west-1")
    with pytest.raises(KafkaSecurityError) as info:
        provider("")
    assert "no AWS credentials found" in str(info.value)
    assert info.value.setting == "SHARDLINE_KAFKA_AWS_REGION"
