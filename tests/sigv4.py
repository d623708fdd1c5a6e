"""An independent check of AWS Signature Version 4, for tests.

It recomputes the signature of a request *as the server received it* (method, raw path and
query, headers, body), following AWS's published algorithm with hashlib and hmac only, so a
test catches both a wrong signature and a request altered after signing (a path re-encoded,
a header dropped, another body).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = ["Authorization", "parse_authorization", "verify_sigv4"]

_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?"
                   r"Signature=([0-9a-f]{64})$")


@dataclass(frozen=True)
class Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization:
    match = _AUTH.match(value)
    assert match is not None, f"not a SigV4 Authorization header: {value[:60]}"
    access_key, date, region, service, terminator = match.group(1).split("/")
    assert terminator == "aws4_request"
    return Authorization(access_key, date, region, service,
                         tuple(match.group(2).split(";")), match.group(3))


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _canonical_query(raw_query: str) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        key, _, value = part.partition("=")
        pairs.append((_encode(unquote(key)), _encode(unquote(value))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_sigv4(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_key: str,
) -> Authorization:
    """Assert the request's signature is right for ``secret_key``; return what it claims.

    ``headers``: as received, names in any case. S3 signs its path as sent; other services
    encode each path segment once more."""
    lower = {k.lower(): v for k, v in headers.items()}
    auth = parse_authorization(lower["authorization"])
    amz_date = lower["x-amz-date"]
    assert amz_date.startswith(auth.date)
    assert "host" in auth.signed_headers and "x-amz-date" in auth.signed_headers
    body_hash = hashlib.sha256(body).hexdigest()
    payload_hash = lower.get("x-amz-content-sha256", body_hash)
    if payload_hash != "UNSIGNED-PAYLOAD":
        assert payload_hash == body_hash, "the body is not the one signed"
    path = raw_path if auth.service == "s3" else quote(raw_path, safe="/~")
    canonical_headers = "".join(
        f"{name}:{' '.join(lower[name].strip().split())}\n" for name in auth.signed_headers)
    canonical = "\n".join([method, path or "/", _canonical_query(raw_query), canonical_headers,
                           ";".join(auth.signed_headers), payload_hash])
    scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret_key).encode(), auth.date)
    for part in (auth.region, auth.service, "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, auth.signature), "SigV4 signature mismatch"
    return auth
