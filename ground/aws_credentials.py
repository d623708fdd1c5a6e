"""AWS credentials for SigV4 signing, from static keys or botocore's credential chain, with an
optional ``AssumeRole`` on top; temporary credentials are refreshed before they expire.

Where they come from (:class:`AwsCredentialOptions`, read from ``<prefix>*`` settings):

- ``static`` (the default): an access key and secret (and a session token, for temporary
  keys), given as settings. The local stack's MinIO root user is the default pair.
- ``chain``: botocore's credential chain, as the AWS SDKs and CLI search it: the
  ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` environment, the
  shared ``~/.aws/credentials`` and ``~/.aws/config`` files and their profiles (including
  ``role_arn``/``source_profile`` and ``credential_process``), web identity
  (``AWS_WEB_IDENTITY_TOKEN_FILE``, as on EKS), the container (ECS) and instance (EC2)
  roles. Credentials the chain refreshes itself (roles) stay refreshable.
- With ``role_arn``, the credentials above are only the source: STS ``AssumeRole`` gives
  temporary credentials, fetched again when fewer than ``refresh_window_s`` seconds of them
  are left (botocore's :class:`~botocore.credentials.RefreshableCredentials`). The STS
  endpoint may be any STS: MinIO answers ``AssumeRole`` on its S3 port.

A signer asks :meth:`AwsCredentials.current` for frozen credentials before each request; a
refresh (an HTTP call to STS or to the chain's source) runs in a thread, never on the event
loop. Nothing here logs a key, a secret or a token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    Credentials,
    ReadOnlyCredentials,
    RefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError

from ground.errors import ConfigError, CredentialsError
from ground.secret import Secret

__all__ = [
    "CREDENTIAL_SOURCES",
    "AssumeRoleOptions",
    "AwsCredentialOptions",
    "AwsCredentials",
    "resolve_credentials",
]

log = logging.getLogger(__name__)

CREDENTIAL_SOURCES = ("static", "chain")
DEFAULT_SESSION_NAME = "shardline"
ROLE_DURATION_S = (900, 43_200, 3_600)  # STS DurationSeconds: min, max, default
DEFAULT_REFRESH_WINDOW_S = 600
#: Below this many seconds left, a refresh that fails is an error (above it, the old
#: credentials are used while the refresh is tried again): half the refresh window.
MANDATORY_SHARE = 2


@dataclass(frozen=True, slots=True)
class AssumeRoleOptions:
    """STS ``AssumeRole`` on top of the source credentials. ``sts_endpoint`` "" is AWS's
    regional STS (or, when the S3 endpoint is not AWS's, that endpoint: MinIO's STS)."""

    role_arn: str
    session_name: str = DEFAULT_SESSION_NAME
    duration_s: int = ROLE_DURATION_S[2]
    external_id: str = ""
    sts_endpoint: str = ""


@dataclass(frozen=True, slots=True)
class AwsCredentialOptions:
    """How a client authenticates to AWS (or an S3/STS-compatible server).

    ``prefix`` is the settings' prefix (``SHARDLINE_S3_``): errors name the settings by it.
    Static keys are not held here: the caller passes them (they double as MinIO's root user).
    """

    prefix: str = "SHARDLINE_S3_"
    source: str = "static"
    session_token: Secret | None = None
    profile: str = ""
    role: AssumeRoleOptions | None = None
    refresh_window_s: int = DEFAULT_REFRESH_WINDOW_S

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], prefix: str, *, default_source: str = "static"
    ) -> AwsCredentialOptions:
        """Read ``<prefix>CREDENTIALS``, ``SESSION_TOKEN``, ``PROFILE``, ``ROLE_ARN``,
        ``ROLE_SESSION_NAME``, ``ROLE_DURATION_SECONDS``, ``ROLE_EXTERNAL_ID``,
        ``STS_ENDPOINT`` and ``REFRESH_SECONDS`` from ``env``."""

        def get(name: str, default: str = "") -> str:
            return env.get(prefix + name, default).strip()

        source = get("CREDENTIALS", default_source).lower()
        if source not in CREDENTIAL_SOURCES:
            raise ConfigError(prefix + "CREDENTIALS", f"one of {CREDENTIAL_SOURCES}, got"
                                                      f" {source!r}")
        token = get("SESSION_TOKEN")
        if token and source != "static":
            raise ConfigError(prefix + "SESSION_TOKEN", "goes with the static keys"
                              f" ({prefix}CREDENTIALS=static); the chain finds its own token")
        profile = get("PROFILE")
        if profile and source != "chain":
            raise ConfigError(prefix + "PROFILE", f"needs {prefix}CREDENTIALS=chain")
        window = _int(prefix + "REFRESH_SECONDS", get("REFRESH_SECONDS"),
                      DEFAULT_REFRESH_WINDOW_S, 1, ROLE_DURATION_S[1])
        role = None
        arn = get("ROLE_ARN")
        if arn:
            name = get("ROLE_SESSION_NAME", DEFAULT_SESSION_NAME)
            if not 2 <= len(name) <= 64:
                raise ConfigError(prefix + "ROLE_SESSION_NAME", "2 to 64 characters")
            lo, hi, default = ROLE_DURATION_S
            duration = _int(prefix + "ROLE_DURATION_SECONDS", get("ROLE_DURATION_SECONDS"),
                            default, lo, hi)
            if window >= duration:
                raise ConfigError(prefix + "REFRESH_SECONDS", f"must be below"
                                  f" {prefix}ROLE_DURATION_SECONDS ({duration}), got {window}:"
                                  " the credentials would be refreshed before every request")
            sts = get("STS_ENDPOINT")
            if sts and not sts.startswith(("http://", "https://")):
                raise ConfigError(prefix + "STS_ENDPOINT", f"expected http(s)://host[:port],"
                                                           f" got {sts!r}")
            role = AssumeRoleOptions(arn, name, duration, get("ROLE_EXTERNAL_ID"),
                                     sts.rstrip("/"))
        else:
            for extra in ("ROLE_SESSION_NAME", "ROLE_DURATION_SECONDS", "ROLE_EXTERNAL_ID",
                          "STS_ENDPOINT"):
                if get(extra):
                    raise ConfigError(prefix + extra, f"needs {prefix}ROLE_ARN")
        return cls(prefix=prefix, source=source, session_token=Secret(token) if token else None,
                   profile=profile, role=role, refresh_window_s=window)

    def settings_names(self) -> str:
        """The settings a rejected credential comes from, for error messages."""
        p = self.prefix
        if self.source == "static":
            base = f"{p}ACCESS_KEY / {p}SECRET_KEY" + (
                f" / {p}SESSION_TOKEN" if self.session_token else "")
        else:
            base = f"{p}CREDENTIALS=chain" + (f" with {p}PROFILE" if self.profile else
                                              " (AWS_* environment, ~/.aws files, roles)")
        if self.role is not None:
            return f"{p}ROLE_ARN assumed with {base}"
        return base


def _int(name: str, raw: str, default: int, lo: int, hi: int) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"a whole number of seconds, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(name, f"must be between {lo} and {hi}, got {value}")
    return value


class AwsCredentials:
    """Credentials to sign with, refreshed by botocore when they are temporary.

    ``settings`` names where they come from (for errors); ``refreshes`` counts the
    ``AssumeRole`` calls made (the first one included).
    """

    def __init__(self, credentials: Credentials, *, settings: str) -> None:
        self._credentials = credentials
        self.settings = settings
        self.refreshes = 0

    @classmethod
    def static(cls, access_key: Secret, secret_key: Secret, session_token: Secret | None = None,
               *, settings: str = "static keys") -> AwsCredentials:
        token = session_token.reveal() if session_token is not None else None
        return cls(Credentials(access_key.reveal(), secret_key.reveal(), token),
                   settings=settings)

    def __repr__(self) -> str:  # never the keys
        return f"AwsCredentials({self.settings})"

    @property
    def refreshable(self) -> bool:
        return isinstance(self._credentials, RefreshableCredentials)

    def frozen(self) -> ReadOnlyCredentials:
        """The current credentials (refreshing them first when they are due; blocks)."""
        return self._credentials.get_frozen_credentials()

    async def current(self) -> ReadOnlyCredentials:
        """The current credentials; a due refresh runs in a thread."""
        creds = self._credentials
        if isinstance(creds, RefreshableCredentials) and creds.refresh_needed():
            return await asyncio.to_thread(creds.get_frozen_credentials)
        return creds.get_frozen_credentials()


def resolve_credentials(
    options: AwsCredentialOptions,
    *,
    region: str,
    access_key: Secret,
    secret_key: Secret,
    default_sts_endpoint: str = "",
    ca_bundle: str | None = None,
    session_factory: Callable[..., botocore.session.Session] = botocore.session.Session,
) -> AwsCredentials:
    """The credentials ``options`` describe. The chain is searched now, and with a role the
    first ``AssumeRole`` is made now, so a missing or refused credential fails at start-up:
    :class:`CredentialsError` naming the settings. ``ca_bundle``: a PEM file the STS client
    trusts instead of the system's CAs (an STS over TLS with a private CA)."""
    names = options.settings_names()
    if options.source == "static":
        token = options.session_token
        base: Credentials = Credentials(access_key.reveal(), secret_key.reveal(),
                                        token.reveal() if token is not None else None)
        session = session_factory()
    else:
        session = session_factory(profile=options.profile or None)
        try:
            found = session.get_credentials()
        except BotoCoreError as exc:  # e.g. a profile that does not exist
            raise CredentialsError("AWS", f"the credential chain failed: {exc}",
                                   setting=names) from None
        if found is None:
            raise CredentialsError(
                "AWS", "the credential chain found no credentials (AWS_ACCESS_KEY_ID, shared"
                " credentials/config files, web identity, container or instance role)",
                setting=names)
        base = found
    if options.role is None:
        return AwsCredentials(base, settings=names)
    return _assume_role(options, options.role, base, session, region=region, names=names,
                        sts_endpoint=options.role.sts_endpoint or default_sts_endpoint,
                        ca_bundle=ca_bundle)


def _assume_role(
    options: AwsCredentialOptions,
    role: AssumeRoleOptions,
    source: Credentials,
    session: botocore.session.Session,
    *,
    region: str,
    names: str,
    sts_endpoint: str,
    ca_bundle: str | None = None,
) -> AwsCredentials:
    def client_creator(service: str, **kwargs: Any) -> Any:
        if ca_bundle is not None:
            kwargs.setdefault("verify", ca_bundle)
        return session.create_client(service, region_name=region,
                                     endpoint_url=sts_endpoint or None, **kwargs)

    extra: dict[str, Any] = {"RoleSessionName": role.session_name,
                             "DurationSeconds": role.duration_s}
    if role.external_id:
        extra["ExternalId"] = role.external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator, source, role.role_arn, extra_args=extra,
        expiry_window_seconds=options.refresh_window_s)
    holder: list[AwsCredentials] = []

    def fetch() -> dict[str, Any]:
        try:
            metadata: dict[str, Any] = fetcher.fetch_credentials()
        except ClientError as exc:  # STS answered: refused
            error = exc.response.get("Error", {})
            raise CredentialsError(
                "STS", f"AssumeRole was refused: {error.get('Code', '?')}:"
                       f" {error.get('Message', '')}", setting=names) from None
        if holder:
            holder[0].refreshes += 1
        log.info("temporary credentials %s: AssumeRole of %s, valid until %s",
                 "refreshed" if holder else "obtained", options.prefix + "ROLE_ARN",
                 metadata.get("expiry_time"))
        return metadata

    try:
        first = fetch()
    except BotoCoreError as exc:  # STS unreachable, bad endpoint, ...
        raise CredentialsError("STS", f"AssumeRole failed: {exc}", setting=names) from None
    credentials = RefreshableCredentials.create_from_metadata(
        first, refresh_using=fetch, method="assume-role",
        advisory_timeout=options.refresh_window_s,
        mandatory_timeout=options.refresh_window_s // MANDATORY_SHARE)
    result = AwsCredentials(credentials, settings=names)
    result.refreshes = 1
    holder.append(result)
    return result
