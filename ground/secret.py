"""Strings that are never printed: passwords, secret keys, tokens; and URLs without their
credentials (:func:`redact_url`, :func:`split_userinfo`).

:class:`Secret` lives in a module of its own so that every configuration of the ground
(:mod:`ground.settings`, :mod:`ground.kafka_config`) can hold one without importing another.
"""

from __future__ import annotations

from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

__all__ = ["REDACTED", "Secret", "redact_url", "split_userinfo"]

#: what is shown in place of a secret
REDACTED = "***"


class Secret:
    """A string that is never printed. Call :meth:`reveal` where the value is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _without_userinfo(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact_url(url: str) -> str:
    """``url`` without a ``user:password@`` part (kept as ``***@`` so the reader sees it was
    there). Anything that does not parse comes back as ``<url>``: never echoed raw."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        plain = _without_userinfo(parts)
    except ValueError:
        return "<url>"
    scheme, _, rest = plain.partition("://")
    return f"{scheme}://{REDACTED}@{rest}" if rest else plain


def split_userinfo(url: str) -> tuple[str, str | None, Secret | None]:
    """``(url without user:password@, user or None, password or None)``; percent-escapes in
    the user and password are decoded."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    password = Secret(unquote(parts.password)) if parts.password is not None else None
    return _without_userinfo(parts), unquote(parts.username or ""), password
