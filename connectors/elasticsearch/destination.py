"""Elasticsearch/OpenSearch destination: one ``_bulk`` request of ``index`` actions per batch.

Each document's ``_index`` is ``index`` with Firehose's ``IndexRotationPeriod`` suffix taken
from that record's Kafka timestamp (see :mod:`connectors.elasticsearch.rotation`), so one
batch may write to two indexes when it straddles a rotation boundary.

Document ids are deterministic, so a retry or a replay overwrites instead of duplicating:
``offset`` (``<topic>+<partition>+<offset>``, Kafka Connect style, the default) or
``record_key`` (the Kafka key, e.g. ``AMZN|1700000000000``: one document per key). ``none``
(Firehose's ``NO_DOCUMENT_ID``) lets the engine assign ids: faster, but a retry or a replay
indexes the document again.

Classification: per-item 429/5xx → retry only those items; other per-item errors (mapping
errors) → permanent; whole-request 429/5xx/connection errors → retry everything; other
whole-request 4xx → permanent. Values that are not a JSON object never reach the request:
they are permanent failures (``invalid_json``) from the first attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp
import orjson

from connectors.core.outcome import DontRetry, Outcome, Retry, RetryPartial, Successful
from connectors.core.records import Batch, Record, Rejected
from connectors.elasticsearch.rotation import IndexRotationPeriod, index_for

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
# Only what classify reads: a full answer is ~250 bytes per document, parsed into several
# dicts each (hundreds of MB for a few 5 MB requests in flight at once).
BULK_PATH = "/_bulk?filter_path=errors,items.*.status,items.*.error"


class DocumentIdStrategy(StrEnum):
    OFFSET = "offset"
    RECORD_KEY = "record_key"
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


class ElasticsearchDestination:
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
    ) -> None:
        self.url = url.rstrip("/")
        self.index = index
        self.document_id_strategy = document_id
        self.rotation = rotation
        # Overrides ``rotation`` entirely when given (any record → index rule).
        self._index_for = index_for
        self.name = name
        self._timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return (f"ElasticsearchDestination({self.url!r}, index={self.index!r}, "
                f"rotation={self.rotation.value})")

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- naming --------------------------------------------------------------------------

    def index_name(self, record: Record) -> str:
        """The ``_index`` for ``record``: the rotated name from its Kafka timestamp."""
        if self._index_for is not None:
            return self._index_for(record)
        return index_for(self.index, self.rotation, record.timestamp_ms)

    def document_id(self, record: Record) -> str | None:
        """The ``_id`` for ``record``; None when the strategy cannot name one (or is ``none``)."""
        if self.document_id_strategy is DocumentIdStrategy.NONE:
            return None
        if self.document_id_strategy is DocumentIdStrategy.OFFSET:
            return f"{record.topic}+{record.partition}+{record.offset}"
        if record.key is None or not record.key or len(record.key) > MAX_ID_BYTES:
            return None
        return record.key.decode("utf-8", "replace")

    # -- the contract --------------------------------------------------------------------

    def encode(self, batch: Batch) -> BulkRequest:
        parts: list[bytes] = []
        items: list[Record] = []
        invalid: list[Rejected] = []
        for record in batch.records:
            doc = _document(record.value)
            if doc is None:
                invalid.append(Rejected(record, INVALID_JSON, "the value is not a JSON object"))
                continue
            target = {"_index": self.index_name(record)}
            if self.document_id_strategy is not DocumentIdStrategy.NONE:
                doc_id = self.document_id(record)
                if doc_id is None:
                    invalid.append(Rejected(
                        record, MISSING_KEY,
                        f"document_id=record_key needs a key of 1..{MAX_ID_BYTES} bytes",
                    ))
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
        try:
            async with self._session.post(
                self.url + BULK_PATH,
                data=request.body,
                headers={"Content-Type": "application/x-ndjson"},
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
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
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


def _document(value: bytes | None) -> bytes | None:
    """The value as a one-line JSON object, or None if it is not a JSON object."""
    if value is None:
        return None
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:  # a ValueError; also invalid UTF-8
        return None
    if not isinstance(parsed, dict):
        return None
    if b"\n" in value or b"\r" in value:
        return orjson.dumps(parsed)
    return value


def _error(body: dict[str, Any] | None) -> tuple[str, str]:
    """(type, reason) of an Elasticsearch ``error`` object."""
    error = (body or {}).get("error")
    if isinstance(error, dict):
        return str(error.get("type", "unknown")), str(error.get("reason", ""))
    if isinstance(error, str):
        return "error", error
    return "unknown", ""
