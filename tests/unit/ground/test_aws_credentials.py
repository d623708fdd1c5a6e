"""AWS credentials: the settings, botocore's chain (environment, shared files and profiles),
and AssumeRole against a fake STS on 127.0.0.1 — its requests' signatures checked
independently, its temporary credentials refreshed before they expire."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest

from ground.aws_credentials import AwsCredentialOptions, AwsCredentials, resolve_credentials
from ground.errors import ConfigError, CredentialsError
from ground.secret import Secret
from tests.sigv4 import verify_sigv4

P = "SHARDLINE_S3_"
ROOT = (Secret("root-user"), Secret("root-secret-key"))


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """botocore sees only what a test gives it: no AWS_* variables, no ~/.aws, no IMDS."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def options(**env: str) -> AwsCredentialOptions:
    return AwsCredentialOptions.from_env({P + k: v for k, v in env.items()}, P)


# -- settings --------------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "field"), [
    ({"CREDENTIALS": "iam"}, "CREDENTIALS"),
    ({"CREDENTIALS": "chain", "SESSION_TOKEN": "t"}, "SESSION_TOKEN"),
    ({"PROFILE": "dev"}, "PROFILE"),
    ({"STS_ENDPOINT": "http://127.0.0.1:1"}, "STS_ENDPOINT"),
    ({"ROLE_ARN": "arn:r", "ROLE_DURATION_SECONDS": "60"}, "ROLE_DURATION_SECONDS"),
    ({"ROLE_ARN": "arn:r", "ROLE_DURATION_SECONDS": "900", "REFRESH_SECONDS": "900"},
     "REFRESH_SECONDS"),
    ({"ROLE_ARN": "arn:r", "STS_ENDPOINT": "127.0.0.1:9000"}, "STS_ENDPOINT"),
    ({"ROLE_ARN": "arn:r", "ROLE_SESSION_NAME": "x"}, "ROLE_SESSION_NAME"),
    ({"REFRESH_SECONDS": "soon"}, "REFRESH_SECONDS"),
])
def test_bad_settings_name_their_field(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        options(**env)
    assert info.value.field == P + field


def test_defaults_are_static_keys_without_a_role() -> None:
    o = options()
    assert (o.source, o.role, o.session_token) == ("static", None, None)
    assert o.settings_names() == f"{P}ACCESS_KEY / {P}SECRET_KEY"
    role = options(ROLE_ARN="arn:aws:iam::1:role/r", CREDENTIALS="chain").role
    assert role is not None and (role.duration_s, role.session_name) == (3600, "shardline")


def test_static_keys_with_a_session_token() -> None:
    creds = resolve_credentials(options(SESSION_TOKEN="tok"), region="us-east-1",
                                access_key=ROOT[0], secret_key=ROOT[1])
    frozen = creds.frozen()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "root-user", "root-secret-key", "tok")
    assert not creds.refreshable
    assert "root-secret-key" not in repr(creds) and "tok" not in creds.settings


# -- the chain -------------------------------------------------------------------------------

def test_the_chain_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    creds = resolve_credentials(options(CREDENTIALS="chain"), region="us-east-1",
                                access_key=ROOT[0], secret_key=ROOT[1])
    assert creds.frozen()[:3] == ("AKIAENV", "env-secret", "env-token")


def test_the_chain_reads_a_profile_of_the_shared_credentials_file(tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = def\n"
        "[analytics]\naws_access_key_id = AKIAPROF\naws_secret_access_key = prof-secret\n")
    creds = resolve_credentials(options(CREDENTIALS="chain", PROFILE="analytics"),
                                region="us-east-1", access_key=ROOT[0], secret_key=ROOT[1])
    assert creds.frozen().access_key == "AKIAPROF"
    assert creds.settings == f"{P}CREDENTIALS=chain with {P}PROFILE"


def test_a_chain_that_finds_nothing_names_the_settings() -> None:
    with pytest.raises(CredentialsError) as info:
        resolve_credentials(options(CREDENTIALS="chain"), region="us-east-1",
                            access_key=ROOT[0], secret_key=ROOT[1])
    assert f"{P}CREDENTIALS=chain" in str(info.value) and "found no credentials" in str(
        info.value)


def test_an_unknown_profile_is_a_credentials_error() -> None:
    with pytest.raises(CredentialsError, match="PROFILE"):
        resolve_credentials(options(CREDENTIALS="chain", PROFILE="nope"), region="us-east-1",
                            access_key=ROOT[0], secret_key=ROOT[1])


# -- AssumeRole ------------------------------------------------------------------------------

class FakeSts:
    """Answers AssumeRole with new temporary keys each time (ASIA1, ASIA2, ...) valid for
    ``ttl_s``; or refuses them all with AccessDenied."""

    def __init__(self, ttl_s: float, refuse: bool = False) -> None:
        self.ttl_s = ttl_s
        self.refuse = refuse
        self.calls: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                url = urlsplit(self.path)
                verify_sigv4("POST", url.path, url.query, dict(self.headers.items()), body,
                             ROOT[1].reveal())
                form = parse_qs(body.decode())
                fake.calls.append(form)
                if fake.refuse:
                    answer = ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied"
                              "</Code><Message>not allowed to assume it</Message></Error>"
                              "<RequestId>1</RequestId></ErrorResponse>")
                    self._send(403, answer)
                    return
                n = len(fake.calls)
                expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
                    seconds=fake.ttl_s)
                self._send(200, (
                    '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                    "<AssumeRoleResult><Credentials>"
                    f"<AccessKeyId>ASIA{n}</AccessKeyId><SecretAccessKey>temp-secret-{n}"
                    f"</SecretAccessKey><SessionToken>token-{n}</SessionToken>"
                    f"<Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
                    "</Credentials><AssumedRoleUser><AssumedRoleId>AROA:s</AssumedRoleId>"
                    "<Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser>"
                    "</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId>"
                    "</ResponseMetadata></AssumeRoleResponse>"))

            def _send(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sts() -> Iterator[FakeSts]:
    fake = FakeSts(ttl_s=3600)
    yield fake
    fake.close()


def role_options(sts_url: str, **env: str) -> AwsCredentialOptions:
    return options(ROLE_ARN="arn:aws:iam::123456789012:role/writer", STS_ENDPOINT=sts_url,
                   ROLE_DURATION_SECONDS="900", **env)


def test_assume_role_signs_with_the_source_keys_and_asks_for_the_duration(sts: FakeSts) -> None:
    creds = resolve_credentials(role_options(sts.url, ROLE_SESSION_NAME="delivery-1"),
                                region="us-east-1", access_key=ROOT[0], secret_key=ROOT[1])
    assert creds.frozen()[:3] == ("ASIA1", "temp-secret-1", "token-1")
    (call,) = sts.calls  # signature checked by the fake with the source secret
    assert call["Action"] == ["AssumeRole"] and call["DurationSeconds"] == ["900"]
    assert call["RoleArn"] == ["arn:aws:iam::123456789012:role/writer"]
    assert call["RoleSessionName"] == ["delivery-1"]
    assert creds.refreshable and creds.refreshes == 1
    assert creds.settings == f"{P}ROLE_ARN assumed with {P}ACCESS_KEY / {P}SECRET_KEY"


def test_temporary_credentials_are_refreshed_within_the_window(
        caplog: pytest.LogCaptureFixture) -> None:
    sts = FakeSts(ttl_s=602)  # 2 s outside the 600 s refresh window when issued
    try:
        creds = resolve_credentials(role_options(sts.url, REFRESH_SECONDS="600"),
                                    region="us-east-1", access_key=ROOT[0],
                                    secret_key=ROOT[1])
        assert asyncio.run(creds.current()).access_key == "ASIA1"
        assert asyncio.run(creds.current()).access_key == "ASIA1"  # not due yet
        time.sleep(2.5)
        with caplog.at_level("INFO", logger="ground.aws_credentials"):
            assert asyncio.run(creds.current()).access_key == "ASIA2"
        assert len(sts.calls) == 2 and creds.refreshes == 2
        assert "temporary credentials refreshed" in caplog.text
        assert "temp-secret" not in caplog.text and "token-2" not in caplog.text
    finally:
        sts.close()


def test_a_refused_assume_role_names_sts_and_the_settings() -> None:
    sts = FakeSts(ttl_s=3600, refuse=True)
    try:
        with pytest.raises(CredentialsError) as info:
            resolve_credentials(role_options(sts.url), region="us-east-1",
                                access_key=ROOT[0], secret_key=ROOT[1])
    finally:
        sts.close()
    text = str(info.value)
    assert text.startswith("STS: AssumeRole was refused: AccessDenied")
    assert f"{P}ROLE_ARN" in text and "root-secret-key" not in text


def test_an_unreachable_sts_is_a_credentials_error() -> None:
    with pytest.raises(CredentialsError, match="STS: AssumeRole failed"):
        resolve_credentials(role_options("http://127.0.0.1:9"), region="us-east-1",
                            access_key=ROOT[0], secret_key=ROOT[1])


def test_static_credentials_never_refresh() -> None:
    creds = AwsCredentials.static(*ROOT)
    assert asyncio.run(creds.current()).access_key == "root-user" and creds.refreshes == 0


def test_the_sts_client_trusts_the_ca_bundle(sts: FakeSts, tmp_path: Path) -> None:
    made: list[dict[str, Any]] = []

    class RecordingSession(botocore.session.Session):
        def create_client(self, *args: Any, **kwargs: Any) -> Any:
            made.append(kwargs)
            return super().create_client(*args, **kwargs)

    bundle = tmp_path / "ca.pem"
    creds = resolve_credentials(role_options(sts.url), region="us-east-1", access_key=ROOT[0],
                                secret_key=ROOT[1], ca_bundle=str(bundle),
                                session_factory=RecordingSession)
    assert creds.frozen()[0] == "ASIA1"
    assert made and all(kwargs["verify"] == str(bundle) for kwargs in made)
