"""Search authentication settings and headers: which method the settings mean, what each
request carries (SigV4 checked independently by :mod:`tests.sigv4`), and that no secret is
ever shown — not even one given in the URL."""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ground.errors import ConfigError
from ground.search_auth import SearchAuth
from ground.settings import Settings
from shardline.stack.search_security import ensure_certificates
from tests.sigv4 import verify_sigv4

P = "SHARDLINE_SEARCH_"


def auth(**env: str) -> SearchAuth:
    return SearchAuth.from_env({P + k: v for k, v in env.items()}, default_region="eu-west-1")


def headers(a: SearchAuth, method: str = "GET", url: str = "https://h:9200/",
            body: bytes = b"") -> dict[str, str]:
    return asyncio.run(a.authenticator().headers(method, url, body))


def test_the_method_follows_the_credential_given() -> None:
    assert auth().method == "none" and headers(auth()) == {}
    basic = auth(USERNAME="writer", PASSWORD="pa:ss w0rd")
    assert basic.method == "basic"
    assert headers(basic)["Authorization"] == "Basic " + base64.b64encode(
        b"writer:pa:ss w0rd").decode()
    assert headers(auth(API_KEY="a2V5"))["Authorization"] == "ApiKey a2V5"
    as_pair = auth(API_KEY="VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw")
    assert headers(as_pair)["Authorization"] == "ApiKey " + base64.b64encode(
        b"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").decode()
    assert headers(auth(BEARER_TOKEN="tok"))["Authorization"] == "Bearer tok"


@pytest.mark.parametrize(("env", "field"), [
    ({"API_KEY": "k", "BEARER_TOKEN": "t"}, "AUTH"),
    ({"AUTH": "kerberos"}, "AUTH"),
    ({"USERNAME": "writer"}, "PASSWORD"),
    ({"AUTH": "basic", "PASSWORD": "p"}, "USERNAME"),
    ({"AUTH": "api_key"}, "API_KEY"),
    ({"AUTH": "bearer"}, "BEARER_TOKEN"),
    ({"AUTH": "aws_sigv4", "AWS_SERVICE": "lambda"}, "AWS_SERVICE"),
    ({"AUTH": "aws_sigv4", "AWS_CREDENTIALS": "static", "AWS_ACCESS_KEY": "A"},
     "AWS_SECRET_KEY"),
    ({"VERIFY_TLS": "maybe"}, "VERIFY_TLS"),
    ({"CA_BUNDLE": "/nonexistent/ca.pem"}, "CA_BUNDLE"),
])
def test_bad_settings_name_their_field(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        auth(**env)
    assert info.value.field == P + field


def test_an_explicit_method_wins_over_the_others_credentials() -> None:
    a = auth(AUTH="api_key", API_KEY="k", USERNAME="u", PASSWORD="p")
    assert a.method == "api_key" and a.password is None


def test_credentials_in_the_url_become_basic_auth_and_leave_the_url() -> None:
    s = Settings.from_env({P + "URL": "https://writer:p%40ss-w0rd@search.example:9243/"})
    assert s.search_url == "https://search.example:9243"
    assert (s.search_auth.method, s.search_auth.username) == ("basic", "writer")
    assert s.search_auth.password is not None and s.search_auth.password.reveal() == "p@ss-w0rd"
    assert "p@ss" not in repr(s) and "p%40ss" not in repr(s)
    assert s.search_port == 9243


def test_a_bad_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({P + "URL": "ftp://writer:hunter22@search.example"})
    assert "hunter22" not in str(info.value) and "***@search.example" in str(info.value)


def test_nothing_secret_in_repr_or_describe() -> None:
    for a in (auth(USERNAME="writer", PASSWORD="hunter22"), auth(API_KEY="hunter22"),
              auth(BEARER_TOKEN="hunter22")):
        assert "hunter22" not in repr(a) + a.describe() + a.settings_names()
        assert "hunter22" not in repr(a.authenticator())


def test_sigv4_for_opensearch_serverless_signs_the_body_and_the_exact_url() -> None:
    a = auth(AUTH="aws_sigv4", AWS_SERVICE="aoss", AWS_CREDENTIALS="static",
             AWS_ACCESS_KEY="AKIASEARCH", AWS_SECRET_KEY="search-secret",
             AWS_SESSION_TOKEN="search-token")
    url = "https://abc.eu-west-1.aoss.amazonaws.com/_bulk?filter_path=errors%2Citems.%2A.status"
    body = b'{"index":{"_index":"t"}}\n{"a":1}\n'
    sent = headers(a, "POST", url, body)
    sent["Host"] = urlsplit(url).netloc  # what the HTTP client adds
    parts = urlsplit(url)
    claimed = verify_sigv4("POST", parts.path, parts.query, sent, body, "search-secret")
    assert (claimed.access_key, claimed.region, claimed.service) == (
        "AKIASEARCH", "eu-west-1", "aoss")
    assert {"x-amz-content-sha256", "x-amz-security-token"} <= set(claimed.signed_headers)
    with pytest.raises(AssertionError):  # another body does not pass
        verify_sigv4("POST", parts.path, parts.query, sent, body + b" ", "search-secret")


def test_sigv4_for_the_managed_service_uses_es(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACHAIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    a = auth(AUTH="aws_sigv4")  # the chain by default
    url = "https://search-x.eu-west-1.es.amazonaws.com/_cluster/health"
    sent = headers(a, "GET", url)
    sent["Host"] = urlsplit(url).netloc
    claimed = verify_sigv4("GET", "/_cluster/health", "", sent, b"", "chain-secret")
    assert (claimed.access_key, claimed.service) == ("AKIACHAIN", "es")


def test_tls_verification_is_on_by_default_and_trusts_the_bundle(tmp_path: Path) -> None:
    ensure_certificates(tmp_path, ["127.0.0.1"])
    bundled = auth(CA_BUNDLE=str(tmp_path / "ca.crt")).ssl_context()
    assert isinstance(bundled, ssl.SSLContext) and bundled.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in bundled.get_ca_certs()] == [
        ((("commonName", "Shardline local CA"),),)]
    default = auth().ssl_context()
    assert isinstance(default, ssl.SSLContext) and default.check_hostname
    assert auth(VERIFY_TLS="false").ssl_context() is False
