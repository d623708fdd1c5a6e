"""Elasticsearch/OpenSearch destination: one ``_bulk`` request of ``index`` actions per batch.

Each document's ``_index`` is ``index`` with Firehose's ``IndexRotationPeriod`` suffix taken
from that record's Kafka timestamp (see :mod:`connectors.elasticsearch.rotation`), so one
batch may write to two indexes when it straddles a rotation boundary.

Document ids are deterministic, so a retry or a replay overwrites instead of duplicating:
``offset`` (``<topic>+<partition>+<offset>``, Kafka Connect style, the default) or
``record_key`` (the Kafka key, e.g. ``AMZN|1700000000000``: one document per key) or
``field`` (a top-level field of the JSON document, ``document_id_field``: one document per
application id, so a record the producer sent twice — same id, new offset — is one document).
``none`` (Firehose's ``NO_DOCUMENT_ID``) lets the engine assign ids: faster, but a retry or a
replay indexes the document again.

Classification: per-item 429/5xx → retry only those items; other per-item errors (mapping
errors) → permanent; whole-request 429/5xx/connection errors → retry everything; other
whole-request 4xx → permanent. A refused credential — 401, or a 403 ``security_exception``
for the request or an item — stops the delivery with a :class:`CredentialsError` naming the
settings: nothing is backed up, nothing committed, the next run delivers it all. Values
that are not a JSON object never reach the request: they are permanent failures
(``invalid_json``) from the first attempt.

Authentication (basic, API key, bearer, SigV4) and TLS come from a
:class:`~ground.search_auth.SearchAuthenticator`; the URL is sent exactly as signed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from botocore.exceptions import BotoCoreError
from yarl import URL

from connectors.core.destination import Destination
from connectors.core.outcome import DontRetry, Outcome, Retry, RetryPartial, Successful
from connectors.core.records import Batch, Record, Rejected
from connectors.elasticsearch.rotation import IndexRotationPeriod, index_for
from ground.errors import CredentialsError
from ground.search_auth import SearchAuth, SearchAuthenticator
from ground.secret import redact_url

__all__ = [
    "BulkRequest",
    "BulkResponse",
    "DocumentIdStrategy",
    "ElasticsearchDestination",
]

DEFAULT_TIMEOUT_MS = 60_000
MAX_ID_BYTES = 512
INVALID_JSON = "invalid_json"
MISSING_KEY = "missing_record_key"
MISSING_FIELD = "missing_document_id_field"
# Only what classify reads: a full answer is ~250 bytes per document, parsed into several
# dicts each (hundreds of MB for a few 5 MB requests in flight at once).
# Percent-encoded as SigV4 canonicalizes it, so what is signed is what is sent.
BULK_PATH = "/_bulk?" + urlencode({"filter_path": "errors,items.*.status,items.*.error"},
                                  quote_via=quote)
SECURITY_EXCEPTION = "security_exception"


class DocumentIdStrategy(StrEnum):
    OFFSET = "offset"
    RECORD_KEY = "record_key"
    # A top-level field of the document (``document_id_field``): the application's own id.
    FIELD = "field"
    # Firehose's NO_DOCUMENT_ID: the engine assigns ids. Not replay-safe: a retried or
    # replayed document is indexed again under a new id.
    NONE = "none"


@dataclass(frozen=True, slots=True)
class BulkRequest:
    """``body`` holds one action + document per ``items`` entry, in order."""

    body: bytes
    items: tuple[Record, ...]
    invalid: tuple[Rejected, ...]


@dataclass(frozen=True, slots=True)
class BulkResponse:
    """``status`` is None when no HTTP answer came (``error`` says why)."""

    status: int | None
    body: dict[str, Any] | None = None
    error: str = ""


def _retriable(status: int) -> bool:
    return status == 429 or status >= 500


class ElasticsearchDestination(Destination):
    def __init__(
        self,
        url: str,
        index: str,
        *,
        document_id: DocumentIdStrategy = DocumentIdStrategy.OFFSET,
        rotation: IndexRotationPeriod = IndexRotationPeriod.NO_ROTATION,
        index_for: Callable[[Record], str] | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        name: str = "elasticsearch",
        document_id_field: str | None = None,
        auth: SearchAuthenticator | None = None,
        system: str = "Elasticsearch",
    ) -> None:
        if (document_id is DocumentIdStrategy.FIELD) != (document_id_field is not None):
            raise ValueError("document_id_field goes with (and only with) document_id=field")
        self.url = url.rstrip("/")
        self.index = index
        self.document_id_strategy = document_id
        self.document_id_field = document_id_field
        self.rotation = rotation
        # Overrides ``rotation`` entirely when given (any record → index rule).
        self._index_for = index_for
        self.name = name
        self.auth = auth or SearchAuth().authenticator()
        self.system = system  # Elasticsearch or OpenSearch, for errors
        self._timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return (f"ElasticsearchDestination({redact_url(self.url)!r}, index={self.index!r}, "
                f"rotation={self.rotation.value})")

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self.auth.auth.ssl_context())
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def cluster_health(self) -> tuple[int, str]:
        """``GET /_cluster/health``, authenticated: its HTTP status and, when it failed, the
        error's ``type: reason`` (an OSError when nothing answers, or TLS fails)."""
        await self.open()
        assert self._session is not None
        url = self.url + "/_cluster/health"
        headers = await self.auth.headers("GET", url)
        async with self._session.get(URL(url, encoded=True), headers=headers) as health:
            if health.status < 400:
                return health.status, ""
            raw = await health.read()
            try:
                body = orjson.loads(raw) if raw else None
            except ValueError:
                body = None
            code, reason = _error(body if isinstance(body, dict) else None)
            return health.status, f"{code}: {reason}"[:300]

    def credentials_error(self, status: int, code: str, reason: str) -> CredentialsError:
        """What a refused credential (401, or 403 ``security_exception``) raises."""
        what = "refused the credentials" if status == 401 else "denied the credentials"
        return CredentialsError(
            self.system, f"{redact_url(self.url)} {what} ({self.auth.auth.describe()}): HTTP"
            f" {status} {code}: {reason[:300]}; offsets not committed",
            setting=self.auth.auth.settings_names())

    # -- naming --------------------------------------------------------------------------

    def index_name(self, record: Record) -> str:
        """The ``_index`` for ``record``: the rotated name from its Kafka timestamp."""
        if self._index_for is not None:
            return self._index_for(record)
        return index_for(self.index, self.rotation, record.timestamp_ms)

    def document_id(self, record: Record, parsed: object = None) -> str | None:
        """The ``_id`` for ``record``; None when the strategy cannot name one (or is ``none``).
        ``parsed``: the value already parsed (``field`` parses it otherwise)."""
        strategy = self.document_id_strategy
        if strategy is DocumentIdStrategy.NONE:
            return None
        if strategy is DocumentIdStrategy.OFFSET:
            return f"{record.topic}+{record.partition}+{record.offset}"
        if strategy is DocumentIdStrategy.FIELD:
            if parsed is None:
                try:
                    parsed = orjson.loads(record.value or b"")
                except orjson.JSONDecodeError:
                    return None
            return _field_id(parsed, self.document_id_field or "")
        if record.key is None or not record.key or len(record.key) > MAX_ID_BYTES:
            return None
        return record.key.decode("utf-8", "replace")

    def _missing_id(self, record: Record) -> Rejected:
        if self.document_id_strategy is DocumentIdStrategy.FIELD:
            return Rejected(
                record, MISSING_FIELD,
                f"document_id=field needs a top-level {self.document_id_field!r} that is a"
                f" string of 1..{MAX_ID_BYTES} bytes or an integer",
            )
        return Rejected(
            record, MISSING_KEY, f"document_id=record_key needs a key of 1..{MAX_ID_BYTES} bytes")

    # -- the contract --------------------------------------------------------------------

    def encode(self, batch: Batch) -> BulkRequest:
        parts: list[bytes] = []
        items: list[Record] = []
        invalid: list[Rejected] = []
        for record in batch.records:
            parsed = _parse(record.value)
            if parsed is None or record.value is None:
                invalid.append(Rejected(record, INVALID_JSON, "the value is not a JSON object"))
                continue
            doc = _document(record.value, parsed)
            target = {"_index": self.index_name(record)}
            if self.document_id_strategy is not DocumentIdStrategy.NONE:
                doc_id = self.document_id(record, parsed)
                if doc_id is None:
                    invalid.append(self._missing_id(record))
                    continue
                target["_id"] = doc_id
            action = {"index": target}
            parts.append(orjson.dumps(action))
            parts.append(doc)
            items.append(record)
        body = b"\n".join(parts) + b"\n" if parts else b""
        return BulkRequest(body, tuple(items), tuple(invalid))

    async def send(self, request: BulkRequest) -> BulkResponse:
        if not request.items:
            return BulkResponse(200, {"errors": False, "items": []})
        if self._session is None:
            await self.open()
        assert self._session is not None
        url = self.url + BULK_PATH
        try:
            headers = await self.auth.headers(
                "POST", url, request.body, {"Content-Type": "application/x-ndjson"})
            async with self._session.post(
                URL(url, encoded=True), data=request.body, headers=headers,
            ) as resp:
                raw = await resp.read()
                try:
                    body = orjson.loads(raw) if raw else None
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    body = {"error": {"type": f"HTTP{resp.status}", "reason": raw[:200].decode(
                        "utf-8", "replace")}}
                return BulkResponse(resp.status, body)
        except (TimeoutError, aiohttp.ClientError, OSError, BotoCoreError) as exc:
            # BotoCoreError: temporary AWS credentials could not be refreshed (yet)
            return BulkResponse(None, error=f"{type(exc).__name__}: {exc}")

    def classify(self, batch: Batch, request: BulkRequest, response: BulkResponse) -> Outcome:
        invalid = request.invalid
        if response.status is None or _retriable(response.status):
            reason = response.error or f"HTTP {response.status}: {_error(response.body)[1]}"
            if invalid:
                return RetryPartial(request.items, reason, invalid)
            return Retry(reason)
        if not 200 <= response.status < 300:
            code, message = _error(response.body)
            if _refused(response.status, code, response.body):
                raise self.credentials_error(response.status, code, message)
            refused = tuple(
                Rejected(r, code, message, response.status) for r in request.items)
            return DontRetry(invalid + refused, f"HTTP {response.status}: {code}: {message}")
        body = response.body or {}
        results = body.get("items", [])
        if not body.get("errors") and len(results) == len(request.items):
            return DontRetry(invalid, "invalid documents") if invalid else Successful()
        if len(results) != len(request.items):
            return RetryPartial(
                request.items,
                f"_bulk answered {len(results)} items for {len(request.items)}",
                invalid,
            )
        retry: list[Record] = []
        rejected = list(invalid)
        reason = ""
        for record, item in zip(request.items, results, strict=True):
            result: dict[str, Any] = (
                next(iter(item.values()), {}) if isinstance(item, dict) else {}
            )
            status = int(result.get("status", 500))
            if 200 <= status < 300:
                continue
            code, message = _error(result)
            if status == 403 and code == SECURITY_EXCEPTION:  # no right to this index
                raise self.credentials_error(status, code, message)
            if _retriable(status):
                retry.append(record)
                reason = reason or f"item status {status}: {code}: {message}"
            else:
                rejected.append(Rejected(record, code, message, status))
        if retry:
            return RetryPartial(tuple(retry), reason, tuple(rejected))
        if rejected:
            return DontRetry(tuple(rejected), f"{len(rejected)} document(s) rejected")
        return Successful()


def _refused(status: int, code: str, body: dict[str, Any] | None) -> bool:
    """Whether a whole-request answer refuses the credentials: 401; 403 from Elasticsearch's
    security (``security_exception``) or from AWS's signature check (a ``message``)."""
    if status == 401:
        return True
    return status == 403 and (code == SECURITY_EXCEPTION or "message" in (body or {}))


def _parse(value: bytes | None) -> dict[str, Any] | None:
    """The value parsed, or None if it is not a JSON object."""
    if value is None:
        return None
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:  # a ValueError; also invalid UTF-8
        return None
    return parsed if isinstance(parsed, dict) else None


def _document(value: bytes, parsed: dict[str, Any]) -> bytes:
    """The value (a JSON object, ``parsed``) on one line."""
    if b"\n" in value or b"\r" in value:
        return orjson.dumps(parsed)
    return value


def _field_id(parsed: object, name: str) -> str | None:
    """The id a document's top-level field ``name`` gives: a non-empty string of at most
    :data:`MAX_ID_BYTES` bytes, or an integer (not a boolean); None otherwise."""
    if not isinstance(parsed, dict):
        return None
    value = parsed.get(name)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value and len(value.encode("utf-8")) <= MAX_ID_BYTES:
        return value
    return None


def _error(body: dict[str, Any] | None) -> tuple[str, str]:
    """(type, reason) of an Elasticsearch ``error`` object."""
    error = (body or {}).get("error")
    if isinstance(error, dict):
        return str(error.get("type", "unknown")), str(error.get("reason", ""))
    if isinstance(error, str):
        return "error", error
    message = (body or {}).get("message")  # Amazon OpenSearch's own refusals
    if isinstance(message, str):
        return "error", message
    return "unknown", ""
