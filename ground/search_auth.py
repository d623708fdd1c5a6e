"""How Shardline authenticates to Elasticsearch/OpenSearch, and over which TLS.

:class:`SearchAuth` is read from the ``SHARDLINE_SEARCH_*`` settings:

- ``AUTH``: ``none``, ``basic``, ``api_key``, ``bearer`` or ``aws_sigv4``. Unset, it is
  the method whose credential is given (``none`` when none is; two are an error).
- ``USERNAME`` / ``PASSWORD``: basic authentication. A ``user:password@`` in
  ``SHARDLINE_SEARCH_URL`` is taken as these and removed from the URL, so it is never shown.
- ``API_KEY``: an Elasticsearch API key, either ``encoded`` as the create-API-key answer
  gives it or ``id:api_key``; sent as ``Authorization: ApiKey ...``.
- ``BEARER_TOKEN``: an OAuth2/OIDC access token or a service account token.
- ``AWS_SERVICE`` (``es`` for Amazon OpenSearch Service, ``aoss`` for OpenSearch
  Serverless), ``AWS_REGION`` (default ``SHARDLINE_S3_REGION``), and the AWS credentials:
  ``AWS_CREDENTIALS`` (``chain``, the default, or ``static`` with ``AWS_ACCESS_KEY`` /
  ``AWS_SECRET_KEY`` / ``AWS_SESSION_TOKEN``), ``AWS_PROFILE``, ``AWS_ROLE_ARN`` and the rest
  of :class:`~ground.aws_credentials.AwsCredentialOptions` under ``SHARDLINE_SEARCH_AWS_``.
  Each request is signed with SigV4 (botocore), its body hashed into
  ``x-amz-content-sha256`` (which OpenSearch Serverless requires).
- ``CA_BUNDLE``: a PEM file of the certificate authorities to trust (the system's when
  unset); ``VERIFY_TLS``: ``true`` (the default) or ``false`` to skip certificate checks.

Every credential is a :class:`~ground.secret.Secret`; errors name the settings, never values.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from ground.aws_credentials import AwsCredentialOptions, AwsCredentials, resolve_credentials
from ground.errors import ConfigError
from ground.secret import Secret

__all__ = ["AUTH_METHODS", "AWS_SERVICES", "SearchAuth", "SearchAuthenticator"]

PREFIX = "SHARDLINE_SEARCH_"
AWS_PREFIX = PREFIX + "AWS_"
AUTH_METHODS = ("none", "basic", "api_key", "bearer", "aws_sigv4")
AWS_SERVICES = ("es", "aoss")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# Which setting holds each method's credential (for inference and for error messages).
_CREDENTIAL_SETTINGS = {
    "basic": f"{PREFIX}USERNAME / {PREFIX}PASSWORD",
    "api_key": f"{PREFIX}API_KEY",
    "bearer": f"{PREFIX}BEARER_TOKEN",
}


@dataclass(frozen=True, slots=True)
class SearchAuth:
    """The authentication and TLS options of the search engine's HTTP API."""

    method: str = "none"
    username: str = ""
    password: Secret | None = field(default=None, repr=False)
    api_key: Secret | None = field(default=None, repr=False)
    bearer_token: Secret | None = field(default=None, repr=False)
    aws_service: str = "es"
    aws_region: str = ""
    aws: AwsCredentialOptions = AwsCredentialOptions(prefix=AWS_PREFIX, source="chain")
    aws_access_key: Secret | None = field(default=None, repr=False)
    aws_secret_key: Secret | None = field(default=None, repr=False)
    ca_bundle: Path | None = None
    verify_tls: bool = True

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        default_region: str,
        url_username: str | None = None,
        url_password: Secret | None = None,
    ) -> SearchAuth:
        """Read the settings; ``url_username``/``url_password`` come from the URL's
        ``user:password@`` (they give way to ``USERNAME``/``PASSWORD`` when both are set)."""

        def get(name: str) -> str:
            return env.get(PREFIX + name, "").strip()

        username = get("USERNAME") or (url_username or "")
        password = Secret(get("PASSWORD")) if get("PASSWORD") else url_password
        api_key = get("API_KEY")
        token = get("BEARER_TOKEN")
        given = [m for m, present in (("basic", bool(username or password)),
                                      ("api_key", bool(api_key)), ("bearer", bool(token)))
                 if present]
        method = get("AUTH").lower()
        if not method:
            if len(given) > 1:
                raise ConfigError(PREFIX + "AUTH", "credentials for more than one method are"
                                  f" set ({', '.join(given)}): choose one of {AUTH_METHODS}")
            method = given[0] if given else "none"
        if method not in AUTH_METHODS:
            raise ConfigError(PREFIX + "AUTH", f"one of {AUTH_METHODS}, got {method!r}")
        if method == "basic" and not (username and password):
            raise ConfigError(PREFIX + "PASSWORD" if username else PREFIX + "USERNAME",
                              "basic authentication needs a user name and a password")
        if method == "api_key" and not api_key:
            raise ConfigError(PREFIX + "API_KEY", "is required with AUTH=api_key")
        if method == "bearer" and not token:
            raise ConfigError(PREFIX + "BEARER_TOKEN", "is required with AUTH=bearer")
        service = get("AWS_SERVICE").lower() or "es"
        if service not in AWS_SERVICES:
            raise ConfigError(PREFIX + "AWS_SERVICE", f"one of {AWS_SERVICES}, got {service!r}")
        aws = AwsCredentialOptions.from_env(env, AWS_PREFIX, default_source="chain")
        access, secret = get("AWS_ACCESS_KEY"), get("AWS_SECRET_KEY")
        if method == "aws_sigv4" and aws.source == "static" and not (access and secret):
            raise ConfigError(AWS_PREFIX + ("SECRET_KEY" if access else "ACCESS_KEY"),
                              "static AWS credentials need an access key and a secret key")
        verify_raw = get("VERIFY_TLS").lower() or "true"
        if verify_raw not in (*_TRUE, *_FALSE):
            raise ConfigError(PREFIX + "VERIFY_TLS", f"true or false, got {verify_raw!r}")
        bundle = get("CA_BUNDLE")
        ca_bundle = Path(bundle).expanduser() if bundle else None
        if ca_bundle is not None and not ca_bundle.is_file():
            raise ConfigError(PREFIX + "CA_BUNDLE", f"no such file: {ca_bundle}")
        return cls(
            method=method, username=username,
            password=password if method == "basic" else None,
            api_key=Secret(_encoded_api_key(api_key)) if method == "api_key" else None,
            bearer_token=Secret(token) if method == "bearer" else None,
            aws_service=service, aws_region=get("AWS_REGION") or default_region, aws=aws,
            aws_access_key=Secret(access) if access else None,
            aws_secret_key=Secret(secret) if secret else None,
            ca_bundle=ca_bundle, verify_tls=verify_raw in _TRUE,
        )

    def settings_names(self) -> str:
        """The settings the credential comes from (for errors naming what to check)."""
        if self.method == "aws_sigv4":
            return f"{PREFIX}AUTH=aws_sigv4 with {self.aws.settings_names()}"
        if self.method == "none":
            return f"{PREFIX}AUTH (no credentials are sent)"
        return _CREDENTIAL_SETTINGS[self.method]

    def describe(self) -> str:
        """What is sent, without any secret: ``basic auth as 'shardline'``, ..."""
        if self.method == "basic":
            return f"basic auth as {self.username!r}"
        return {"none": "no authentication", "api_key": "an API key",
                "bearer": "a bearer token",
                "aws_sigv4": f"SigV4 ({self.aws_service}, {self.aws_region})"}[self.method]

    def ssl_context(self) -> ssl.SSLContext | bool:
        """For aiohttp's ``ssl=``: False to skip verification, else a context trusting the CA
        bundle (or the system's CAs). Plain-HTTP URLs ignore it."""
        if not self.verify_tls:
            return False
        return ssl.create_default_context(
            cafile=str(self.ca_bundle) if self.ca_bundle is not None else None)

    def authenticator(self, *, credentials: AwsCredentials | None = None) -> SearchAuthenticator:
        """The request signer; with SigV4, the AWS credentials are resolved now (a chain that
        finds nothing, or a refused role, is a CredentialsError naming the settings)."""
        if self.method == "aws_sigv4" and credentials is None:
            credentials = resolve_credentials(
                self.aws, region=self.aws_region,
                access_key=self.aws_access_key or Secret(""),
                secret_key=self.aws_secret_key or Secret(""))
        return SearchAuthenticator(self, credentials)


def _encoded_api_key(value: str) -> str:
    """``id:api_key`` → its base64 (what ``Authorization: ApiKey`` carries); an already
    encoded key (no colon) as it is."""
    if ":" in value:
        return base64.b64encode(value.encode()).decode("ascii")
    return value


class SearchAuthenticator:
    """Adds the authentication headers to each request of a :class:`SearchAuth`."""

    def __init__(self, auth: SearchAuth, credentials: AwsCredentials | None = None) -> None:
        self.auth = auth
        self._credentials = credentials
        self._static: dict[str, str] = {}
        if auth.method == "basic":
            assert auth.password is not None
            pair = f"{auth.username}:{auth.password.reveal()}".encode()
            self._static = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        elif auth.method == "api_key":
            assert auth.api_key is not None
            self._static = {"Authorization": "ApiKey " + auth.api_key.reveal()}
        elif auth.method == "bearer":
            assert auth.bearer_token is not None
            self._static = {"Authorization": "Bearer " + auth.bearer_token.reveal()}

    def __repr__(self) -> str:
        return f"SearchAuthenticator({self.auth.describe()})"

    async def headers(
        self, method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """``headers`` plus the authentication ones for this request. ``url`` must be sent
        exactly as given (a SigV4 signature covers its path and query)."""
        if self._credentials is None:
            return {**(headers or {}), **self._static}
        return self._sign(method, url, body, headers, await self._credentials.current())

    def headers_sync(
        self, method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """:meth:`headers` for blocking clients (a refresh blocks too)."""
        if self._credentials is None:
            return {**(headers or {}), **self._static}
        return self._sign(method, url, body, headers, self._credentials.frozen())

    def _sign(self, method: str, url: str, body: bytes, headers: Mapping[str, str] | None,
              credentials: ReadOnlyCredentials) -> dict[str, str]:
        all_headers = dict(headers or {})
        all_headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        request = AWSRequest(method=method, url=url, data=body, headers=all_headers)
        SigV4Auth(credentials, self.auth.aws_service, self.auth.aws_region).add_auth(request)
        return dict(request.headers.items())
