"""A Confluent-compatible schema registry, through confluent-kafka's client.

Any server of the Confluent Schema Registry API works: Confluent's own, Karapace, Apicurio
(``/apis/ccompat/v7``), Redpanda. Three questions are asked of it:

* **the schema of an id** (:meth:`SchemaRegistry.by_id`): an id names one schema for ever,
  so the answer is cached for the life of the process. An id the registry does not know is
  a :class:`~ground.errors.CodecError` (the record's fault: it goes to an error stream); the
  answer is remembered for :data:`UNKNOWN_ID_TTL_MS`, so a stream of such records does not
  become a stream of requests;
* **the latest schema of a subject** (:meth:`SchemaRegistry.latest`), read once;
* **registering a schema** under a subject (:meth:`SchemaRegistry.register`), once per
  subject and schema text.

Anything else that goes wrong — the registry does not answer, refuses the credentials or a
schema — is a :class:`~ground.errors.SchemaRegistryError`: not any record's fault, so the
work stops (or is retried) instead of sending records to an error stream. Messages name the
registry's URL and the settings, never the password.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry import SchemaRegistryError as ClientError

from ground.errors import CodecError, ConfigError, SchemaRegistryError
from ground.settings import Secret, Settings

__all__ = [
    "UNKNOWN_ID_TTL_MS",
    "RegistryConfig",
    "SchemaRegistry",
    "WriterSchema",
    "canonical_form",
]

#: How long an id the registry did not know is not asked for again.
UNKNOWN_ID_TTL_MS = 30_000
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RETRIES = 2
_AVRO = "AVRO"
_NOT_FOUND = 404
_REFUSED = (401, 403)


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """Where the registry is and how to authenticate. ``password`` is a :class:`Secret`."""

    url: str
    user: str = ""
    password: Secret | None = field(default=None, repr=False)
    ca_location: Path | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistryConfig | None:
        """The registry of ``SHARDLINE_SCHEMA_REGISTRY_*``, None when no URL is set."""
        if not settings.schema_registry_url:
            return None
        return cls(
            url=settings.schema_registry_url,
            user=settings.schema_registry_user,
            password=settings.schema_registry_password,
            ca_location=settings.schema_registry_ca,
        )

    def client_config(self) -> dict[str, Any]:
        """The configuration of confluent-kafka's ``SchemaRegistryClient`` (holds the
        password: never log it)."""
        conf: dict[str, Any] = {
            "url": self.url,
            "timeout": self.timeout_s,
            "max.retries": self.max_retries,
        }
        if self.user:
            password = self.password.reveal() if self.password is not None else ""
            conf["basic.auth.user.info"] = f"{self.user}:{password}"
        if self.ca_location is not None:
            conf["ssl.ca.location"] = str(self.ca_location)
        return conf


@dataclass(frozen=True, slots=True)
class WriterSchema:
    """A schema of the registry: its id, parsed (fastavro) and in Parsing Canonical Form
    (equal forms: the same schema, whatever the spelling)."""

    id: int
    schema: dict[str, Any] = field(repr=False)
    canonical: str = field(repr=False)
    text: str = field(repr=False)  # as registered

    @property
    def name(self) -> str:
        return str(self.schema.get("name", "?"))


def canonical_form(parsed: dict[str, Any]) -> str:
    return str(fastavro.schema.to_parsing_canonical_form(parsed))


class SchemaRegistry:
    """The registry's answers, cached. ``client`` replaces confluent-kafka's client (tests
    pass a fake); ``clock_ms`` is the clock of the unknown-id memory."""

    def __init__(
        self,
        config: RegistryConfig,
        *,
        client: Any = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._clock_ms = clock_ms or (lambda: time.monotonic_ns() // 1_000_000)
        self._by_id: dict[int, WriterSchema] = {}
        self._unknown: dict[int, tuple[int, str]] = {}  # id -> (until ms, reason)
        self._registered: dict[tuple[str, str], int] = {}
        self.requests = 0  # answers not found in the caches (for tests and metrics)

    @property
    def url(self) -> str:
        return self.config.url

    def _client_or_new(self) -> Any:
        if self._client is None:
            try:
                self._client = SchemaRegistryClient(self.config.client_config())
            except (ValueError, TypeError) as exc:
                raise ConfigError("SHARDLINE_SCHEMA_REGISTRY_URL", str(exc)) from None
        return self._client

    # -- the three questions ---------------------------------------------------------------

    def by_id(self, schema_id: int) -> WriterSchema:
        """The Avro schema registered under ``schema_id``. CodecError (without ``raw``) if
        the registry has no such id or it is not an Avro record schema."""
        found = self._by_id.get(schema_id)
        if found is not None:
            return found
        gone = self._unknown.get(schema_id)
        if gone is not None and gone[0] > self._clock_ms():
            raise CodecError(gone[1])
        self.requests += 1
        try:
            schema = self._call(f"read schema id {schema_id}", "get_schema", schema_id)
        except _NotFound:
            self._forget(schema_id, f"unknown schema id {schema_id}: not in the schema "
                                    f"registry at {self.url}")
        kind = getattr(schema, "schema_type", None) or _AVRO
        if kind != _AVRO:
            self._forget(schema_id, f"schema id {schema_id} is a {kind} schema, not Avro")
        try:
            parsed = self._parse(schema, f"schema id {schema_id}")
        except ConfigError as exc:
            self._forget(schema_id, f"{exc.field}: {exc.message}")
        found = self._by_id[schema_id] = WriterSchema(
            schema_id, parsed, canonical_form(parsed), schema.schema_str
        )
        return found

    def latest(self, subject: str) -> WriterSchema | None:
        """The latest version of ``subject``, or None when the registry has no such subject."""
        self.requests += 1
        try:
            registered = self._call(
                f"read the latest version of subject {subject!r}", "get_latest_version", subject
            )
        except _NotFound:
            return None
        parsed = self._parse(registered.schema, f"subject {subject!r}")
        writer = WriterSchema(
            registered.schema_id, parsed, canonical_form(parsed), registered.schema.schema_str
        )
        self._by_id.setdefault(writer.id, writer)
        return writer

    def register(self, subject: str, text: str) -> int:
        """The id of schema ``text`` under ``subject``, registering it if it is new there.
        SchemaRegistryError if the registry refuses it (incompatible with the subject)."""
        key = (subject, text)
        sid = self._registered.get(key)
        if sid is None:
            self.requests += 1
            try:
                sid = int(self._call(
                    f"register a schema under subject {subject!r}",
                    "register_schema", subject, Schema(text, _AVRO),
                ))  # fmt: skip
            except _NotFound as exc:
                raise SchemaRegistryError(
                    f"the schema registry at {self.url} cannot register under {subject!r}: "
                    f"{exc.message}",
                    status=_NOT_FOUND,
                ) from None
            self._registered[key] = sid
        return sid

    # -- plumbing ------------------------------------------------------------------------------

    def _forget(self, schema_id: int, reason: str) -> NoReturn:
        self._unknown[schema_id] = (self._clock_ms() + UNKNOWN_ID_TTL_MS, reason)
        raise CodecError(reason)

    def _call(self, what: str, method: str, *args: Any) -> Any:
        client = self._client_or_new()
        try:
            return getattr(client, method)(*args)
        except ClientError as exc:
            status = int(exc.http_status_code or 0)
            if status == _NOT_FOUND:
                raise _NotFound(str(exc.error_message)) from None
            if status in _REFUSED:
                raise SchemaRegistryError(
                    f"the schema registry at {self.url} refused to {what}: HTTP {status} "
                    "(check SHARDLINE_SCHEMA_REGISTRY_USER and SHARDLINE_SCHEMA_REGISTRY_PASSWORD)",
                    status=status,
                ) from None
            raise SchemaRegistryError(
                f"the schema registry at {self.url} could not {what}: {exc.error_message} "
                f"(HTTP {status}, error code {exc.error_code})",
                status=status,
            ) from None
        except Exception as exc:  # the transport: refused, reset, timed out, TLS
            raise SchemaRegistryError(
                f"the schema registry at {self.url} did not answer (to {what}): "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def _parse(self, schema: Any, where: str) -> dict[str, Any]:
        """Parse a registered schema, with the named types of its references."""
        named: dict[str, Any] = {}
        self._references(schema, named, set())
        try:
            parsed = fastavro.parse_schema(json.loads(schema.schema_str), named_schemas=named)
        except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
            raise ConfigError(where, f"not a valid Avro schema: {exc}") from None
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            raise ConfigError(where, "not an Avro record schema")
        return parsed

    def _references(self, schema: Any, named: dict[str, Any], seen: set[tuple[str, int]]) -> None:
        for ref in getattr(schema, "references", None) or []:
            key = (ref.subject, ref.version)
            if key in seen:
                continue
            seen.add(key)
            self.requests += 1
            try:
                registered = self._call(
                    f"read reference {ref.subject!r} version {ref.version}",
                    "get_version", ref.subject, ref.version,
                )  # fmt: skip
            except _NotFound:
                raise ConfigError("schema", f"reference {ref.subject!r} version {ref.version} "
                                            "is not in the schema registry") from None
            self._references(registered.schema, named, seen)
            fastavro.parse_schema(json.loads(registered.schema.schema_str), named_schemas=named)


class _NotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
