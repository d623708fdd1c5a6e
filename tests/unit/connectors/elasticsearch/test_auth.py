"""The Elasticsearch destination against a scripted HTTPS server on 127.0.0.1: what each
request carries, how a refused credential stops the delivery (never a backup, never a
commit), and the start-up check's errors — naming the settings, never the secrets."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.core import Batch, DontRetry
from connectors.elasticsearch.config import check_cluster
from connectors.elasticsearch.destination import BulkResponse, ElasticsearchDestination
from ground.errors import CredentialsError, DeliveryError, DestinationUnavailableError
from ground.search_auth import SearchAuth
from ground.secret import Secret
from ground.settings import Settings
from shardline.stack.search_security import ensure_certificates
from tests.sigv4 import verify_sigv4
from tests.unit.connectors.helpers import rec

T = TypeVar("T")
KEY = "c2VjcmV0LWtleS1pZDpzZWNyZXQta2V5"  # what an API key's "encoded" looks like
BATCH = Batch.of([rec(1, b'{"a":1}'), rec(2, b'{"a":2}')])
UNAUTHENTICATED = {"error": {"type": "security_exception",
                             "reason": "unable to authenticate with provided credentials"},
                   "status": 401}
UNAUTHORIZED = {"type": "security_exception",
                "reason": "action [indices:data/write/bulk[s]] is unauthorized for API key"}


@dataclass
class FakeSearch:
    answers: list[web.Response] = field(default_factory=list)
    seen: list[tuple[str, str, str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.rel_url.raw_path,
                          request.rel_url.raw_query_string, dict(request.headers),
                          await request.read()))
        return self.answers.pop(0) if self.answers else web.json_response(
            {"errors": False, "items": [{"index": {"status": 201}}] * 2})


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    ensure_certificates(folder, ["127.0.0.1"])
    return folder


def run(fake: FakeSearch, tls: Path | None,
        go: Callable[[str], Awaitable[T]]) -> T:
    async def main() -> T:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", fake.handle)
        context = None
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(tls / "node.crt", tls / "node.key")
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(ssl=context)
        try:
            scheme = "https" if tls is not None else "http"
            return await go(f"{scheme}://127.0.0.1:{server.port}")
        finally:
            await server.close()

    return asyncio.run(main())


def deliver(url: str, auth: SearchAuth) -> Callable[[], Awaitable[Any]]:
    async def go() -> Any:
        d = ElasticsearchDestination(url, "ticks", auth=auth.authenticator())
        try:
            request = d.encode(BATCH)
            return d, request, await d.send(request)
        finally:
            await d.close()
    return go


def test_an_api_key_goes_over_verified_tls(tls: Path) -> None:
    fake = FakeSearch()
    auth = SearchAuth(method="api_key", api_key=Secret(KEY), ca_bundle=tls / "ca.crt")
    d, request, response = run(fake, tls, lambda url: deliver(url, auth)())
    assert response.status == 200
    method, path, query, sent, _body = fake.seen[0]
    assert (method, path) == ("POST", "/_bulk") and query.startswith("filter_path=errors")
    assert sent["Authorization"] == f"ApiKey {KEY}"


def test_sigv4_signs_the_bulk_request_as_sent(tls: Path) -> None:
    fake = FakeSearch()
    auth = SearchAuth(method="aws_sigv4", aws_service="es", aws_region="eu-west-1",
                      aws=replace(SearchAuth().aws, source="static"),
                      aws_access_key=Secret("AKIAES"), aws_secret_key=Secret("es-secret"),
                      ca_bundle=tls / "ca.crt")
    run(fake, tls, lambda url: deliver(url, auth)())
    method, path, query, sent, body = fake.seen[0]
    claimed = verify_sigv4(method, path, query, sent, body, "es-secret")
    assert (claimed.service, claimed.region) == ("es", "eu-west-1")


def test_an_unknown_certificate_authority_is_refused_by_default(tls: Path) -> None:
    fake = FakeSearch()
    _d, _req, response = run(fake, tls, lambda url: deliver(url, SearchAuth())())
    assert response.status is None and "certificate" in response.error.lower()
    assert fake.seen == []


def test_a_refused_credential_stops_the_delivery_naming_the_setting() -> None:
    fake = FakeSearch([web.json_response(UNAUTHENTICATED, status=401)])
    auth = SearchAuth(method="api_key", api_key=Secret(KEY))
    d, request, response = run(fake, None, lambda url: deliver(url, auth)())
    with pytest.raises(CredentialsError) as info:
        d.classify(BATCH, request, response)
    text = str(info.value)
    assert text.startswith("Elasticsearch: http://127.0.0.1:")
    assert "HTTP 401 security_exception" in text and "SHARDLINE_SEARCH_API_KEY" in text
    assert KEY not in text


def test_an_index_the_credentials_may_not_write_stops_the_delivery_too() -> None:
    d = ElasticsearchDestination("http://127.0.0.1:9", "ticks",
                                 auth=SearchAuth(method="bearer",
                                                 bearer_token=Secret("tok")).authenticator())
    request = d.encode(BATCH)
    per_item = BulkResponse(200, {"errors": True, "items": [
        {"index": {"status": 403, "error": UNAUTHORIZED}}] * 2})
    with pytest.raises(CredentialsError, match="SHARDLINE_SEARCH_BEARER_TOKEN"):
        d.classify(BATCH, request, per_item)
    whole = BulkResponse(403, {"error": UNAUTHORIZED, "status": 403})
    with pytest.raises(CredentialsError, match="HTTP 403"):
        d.classify(BATCH, request, whole)
    aws = BulkResponse(403, {"message": "The security token included in the request is"
                                        " invalid."})
    with pytest.raises(CredentialsError, match="security token"):
        d.classify(BATCH, request, aws)
    # other refusals keep their meaning: a read-only index is the documents' failure
    blocked = BulkResponse(403, {"error": {"type": "cluster_block_exception",
                                           "reason": "index [ticks] blocked"}, "status": 403})
    assert isinstance(d.classify(BATCH, request, blocked), DontRetry)


def test_the_url_never_shows_credentials() -> None:
    d = ElasticsearchDestination("https://writer:hunter22@search.example:9200", "ticks")
    assert "hunter22" not in repr(d)


def settings_for(url: str, auth: SearchAuth) -> Settings:
    return replace(Settings.from_env({}), search_url=url, search_auth=auth)


def test_the_start_up_check_names_elasticsearch_and_the_settings(tls: Path) -> None:
    fake = FakeSearch([web.json_response(UNAUTHENTICATED, status=401)])
    auth = SearchAuth(method="basic", username="writer", password=Secret("hunter22"),
                      ca_bundle=tls / "ca.crt")
    with pytest.raises(CredentialsError) as info:
        run(fake, tls, lambda url: check_cluster(settings_for(url, auth), "ticks"))
    text = str(info.value)
    assert "refused the credentials (basic auth as 'writer')" in text
    assert "SHARDLINE_SEARCH_USERNAME / SHARDLINE_SEARCH_PASSWORD" in text
    assert "hunter22" not in text
    assert fake.seen[0][3]["Authorization"].startswith("Basic ")


def test_the_start_up_check_accepts_a_key_that_may_not_read_the_health(tls: Path) -> None:
    fake = FakeSearch([web.json_response({"error": UNAUTHORIZED, "status": 403}, status=403)])
    auth = SearchAuth(method="api_key", api_key=Secret(KEY), ca_bundle=tls / "ca.crt")
    run(fake, tls, lambda url: check_cluster(settings_for(url, auth), "ticks"))


def test_the_start_up_check_points_at_the_ca_bundle(tls: Path) -> None:
    with pytest.raises(DeliveryError) as info:
        run(FakeSearch(), tls, lambda url: check_cluster(settings_for(url, SearchAuth()), "t"))
    assert "SHARDLINE_SEARCH_CA_BUNDLE" in str(info.value)
    assert str(info.value).startswith("Elasticsearch: cannot verify the TLS certificate")


def test_the_start_up_check_calls_a_cluster_answering_5xx_or_down_unavailable() -> None:
    """Transient (a worker waits for it at start-up); 4xx other than the credentials' are
    not."""
    fake = FakeSearch([web.json_response({"error": {"type": "master_not_discovered_exception",
                                                    "reason": "starting"}}, status=503)])
    with pytest.raises(DestinationUnavailableError) as info:
        run(fake, None, lambda url: check_cluster(settings_for(url, SearchAuth()), "t"))
    assert info.value.system == "Elasticsearch" and "HTTP 503" in info.value.reason
    with pytest.raises(DestinationUnavailableError) as down:
        asyncio.run(check_cluster(settings_for("http://127.0.0.1:9", SearchAuth()), "t"))
    assert down.value.endpoint == "http://127.0.0.1:9"
    fake = FakeSearch([web.json_response({"error": {"type": "x", "reason": "y"}}, status=400)])
    with pytest.raises(DeliveryError) as refused:
        run(fake, None, lambda url: check_cluster(settings_for(url, SearchAuth()), "t"))
    assert not isinstance(refused.value, DestinationUnavailableError)
