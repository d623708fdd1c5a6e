"""Reaching S3 from the environment: the client a delivery's S3 destinations send with, and
the start-up check of the buckets they write to."""

from __future__ import annotations

from collections.abc import Sequence

from ground.aws_credentials import AwsCredentials
from ground.errors import CredentialsError, DeliveryError, DestinationUnavailableError
from ground.s3 import CREDENTIAL_ERROR_CODES, S3Client, S3Response
from ground.settings import Settings

__all__ = ["check_buckets", "s3_client"]


def s3_client(settings: Settings, credentials: AwsCredentials | None = None) -> S3Client:
    """A client of the S3 endpoint ``settings`` name. ``credentials`` (one set shared by a
    delivery's clients, so they refresh once) are resolved from the settings when not given."""
    return S3Client.from_settings(settings, credentials)


async def check_buckets(
    settings: Settings,
    buckets: Sequence[tuple[str, bool, str]],
    credentials: AwsCredentials | None = None,
) -> None:
    """Each ``(bucket, ensure, field)``: created when ``ensure``, else it must exist; a
    DeliveryError naming ``field`` when it is not usable, a CredentialsError naming the
    credential settings when S3 refuses the credentials themselves, and a
    DestinationUnavailableError (transient) when S3 cannot be reached or answers 5xx."""
    if not buckets:
        return
    async with s3_client(settings, credentials) as s3:
        for bucket, ensure, field in buckets:
            resp = await (s3.ensure_bucket(bucket) if ensure else s3.head_bucket(bucket))
            if resp.status in (400, 403):  # HEAD answers have no body: ask what is wrong
                resp = await s3.check_credentials(bucket)
                if resp.ok:  # listing is allowed where HEAD was not: go on
                    continue
            if _unavailable(resp):  # down, restarting, overloaded: transient
                why = resp.error or f"HTTP {resp.status} {resp.error_code}"
                raise DestinationUnavailableError(
                    f"{field} {bucket!r}: cannot reach {settings.s3_endpoint}: {why}",
                    system="S3", endpoint=settings.s3_endpoint, reason=why,
                )
            if not resp.ok:
                code = resp.error_code
                if code in CREDENTIAL_ERROR_CODES or code == "ExpiredToken":
                    raise CredentialsError(
                        "S3", f"{settings.s3_endpoint} refused the credentials ({code}:"
                        f" {resp.message})", setting=s3.credentials.settings)
                why = resp.error or f"HTTP {resp.status} {code}"
                if code == "AccessDenied":
                    why += f" (the credentials from {s3.credentials.settings} may not use it)"
                raise DeliveryError(
                    f"{field} {bucket!r} at {settings.s3_endpoint} is not usable: {why}"
                    + ("" if ensure else " (set ensure_bucket: true to create it)"),
                    destination="s3",
                )


#: transport failures that waiting does not fix (the server's certificate is not trusted)
_TLS_FAILURES = frozenset({"ClientConnectorCertificateError", "ClientConnectorSSLError",
                           "ClientSSLError", "SSLError", "SSLCertVerificationError"})


def _unavailable(resp: S3Response) -> bool:
    """No answer (but a TLS failure), or a 5xx one: the server is down for now."""
    if resp.status is None:
        return resp.error_code not in _TLS_FAILURES
    return resp.status >= 500
