"""The processing hook: a Python callable with Firehose's data-transformation Lambda contract.

The hook is named ``"package.module:function"`` and may be sync or async. It is called with
a list of Firehose-shaped records ``{"recordId", "approximateArrivalTimestamp", "data"}``
(``data`` base64), at most ``buffer_size_bytes`` of data per call, and answers a list (or
``{"records": [...]}``) of ``{"recordId", "result", "data", "metadata": {"partitionKeys"}}``
with ``result`` one of ``Ok``, ``Dropped``, ``ProcessingFailed``.

A call that raises or exceeds ``timeout_ms`` is retried ``retries`` times with exponential
backoff; then every record of the call fails. An answer that breaks the contract fails only
the records concerned: a recordId missing or answered twice, an unknown result, data that is
not base64, bad partition keys. Failed records go to the error output as
``processing-failed``, with the error code saying why.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from connectors.core.retry import Sleep
from ground.errors import ConfigError

__all__ = [
    "DEFAULT_BUFFER_SIZE_BYTES",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT_MS",
    "INVOCATION_FAILURES",
    "PROCESSING_FAILED",
    "HookInput",
    "HookOutcome",
    "ProcessingHook",
    "load_callable",
]

log = logging.getLogger(__name__)

PROCESSING_FAILED = "processing-failed"
DEFAULT_RETRIES = 3  # Firehose NumberOfRetries
DEFAULT_TIMEOUT_MS = 60_000
DEFAULT_BUFFER_SIZE_BYTES = 1024 * 1024  # Firehose BufferSizeInMBs default 1 (0.2–3)
INITIAL_BACKOFF_MS = 100
MAX_BACKOFF_MS = 5_000
RESULTS = ("Ok", "Dropped", "ProcessingFailed")
# Error codes that mean the invocation itself failed (not a record's verdict).
INVOCATION_FAILURES = frozenset({"Hook.Timeout", "Hook.InvocationFailed", "Hook.InvalidResponse"})

HookFunction = Callable[[list[dict[str, Any]]], Any]


def load_callable(spec: str, *, field: str = "hook.callable") -> HookFunction:
    """Import ``"package.module:function"``; a ConfigError naming ``field`` when it cannot."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(field, f"expected 'package.module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(field, f"cannot import {module_name!r}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ConfigError(field, f"{module_name!r} has no {attr!r}")
    if not callable(target):
        raise ConfigError(field, f"{spec!r} is not callable")
    return cast(HookFunction, target)


@dataclass(frozen=True, slots=True)
class HookInput:
    """One record for the hook: its id, data and Kafka timestamp (ms)."""

    record_id: str
    data: bytes
    arrival_ms: int


@dataclass(frozen=True, slots=True)
class HookOutcome:
    """The hook's verdict on one record (``result`` is Ok, Dropped or ProcessingFailed)."""

    record_id: str
    result: str
    data: bytes = b""
    partition_keys: tuple[tuple[str, str], ...] = ()
    error_code: str = ""
    error_message: str = ""
    attempts: int = 1


class ProcessingHook:
    def __init__(
        self,
        function: HookFunction,
        *,
        retries: int = DEFAULT_RETRIES,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        buffer_size_bytes: int = DEFAULT_BUFFER_SIZE_BYTES,
        name: str = "hook",
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.function = function
        self.retries = retries
        self.timeout_ms = timeout_ms
        self.buffer_size_bytes = buffer_size_bytes
        self.name = name
        self.sleep = sleep
        self._async = inspect.iscoroutinefunction(function)

    @classmethod
    def from_spec(cls, spec: str, **kwargs: Any) -> ProcessingHook:
        return cls(load_callable(spec), name=spec, **kwargs)

    def chunks(self, inputs: Sequence[HookInput]) -> list[list[HookInput]]:
        """Consecutive calls of at most ``buffer_size_bytes`` of data (at least one record)."""
        out: list[list[HookInput]] = []
        current: list[HookInput] = []
        size = 0
        for item in inputs:
            if current and size + len(item.data) > self.buffer_size_bytes:
                out.append(current)
                current, size = [], 0
            current.append(item)
            size += len(item.data)
        if current:
            out.append(current)
        return out

    async def process(self, inputs: Sequence[HookInput]) -> list[HookOutcome]:
        """One outcome per input, in input order."""
        out: list[HookOutcome] = []
        for chunk in self.chunks(inputs):
            out.extend(await self._call(chunk))
        return out

    async def _call(self, chunk: list[HookInput]) -> list[HookOutcome]:
        request = [
            {"recordId": i.record_id, "approximateArrivalTimestamp": i.arrival_ms,
             "data": base64.b64encode(i.data).decode("ascii")}
            for i in chunk
        ]
        backoff_ms = INITIAL_BACKOFF_MS
        attempts = 0
        while True:
            attempts += 1
            try:
                answer = await asyncio.wait_for(self._invoke(request), self.timeout_ms / 1000)
                return validate(chunk, answer, attempts)
            except TimeoutError:
                code, message = "Hook.Timeout", f"no answer within {self.timeout_ms} ms"
            except Exception as exc:  # the hook is user code: anything it raises is a failure
                code, message = "Hook.InvocationFailed", f"{type(exc).__name__}: {exc}"
            if attempts > self.retries:
                log.warning("%s: %d record(s) failed after %d attempt(s): %s",
                            self.name, len(chunk), attempts, message)
                return [HookOutcome(i.record_id, "ProcessingFailed", error_code=code,
                                    error_message=message, attempts=attempts) for i in chunk]
            log.info("%s: attempt %d failed, again in %d ms: %s",
                     self.name, attempts, backoff_ms, message)
            await self.sleep(backoff_ms / 1000)
            backoff_ms = min(backoff_ms * 2, MAX_BACKOFF_MS)

    async def _invoke(self, request: list[dict[str, Any]]) -> Any:
        if self._async:
            return await self.function(request)
        result = await asyncio.to_thread(self.function, request)
        if inspect.isawaitable(result):
            return await result
        return result


def validate(chunk: Sequence[HookInput], answer: Any, attempts: int) -> list[HookOutcome]:
    """The hook's answer checked against the contract: one outcome per input, in order."""
    if isinstance(answer, dict) and "records" in answer:
        answer = answer["records"]
    if not isinstance(answer, list):
        message = f"expected a list of records, got {type(answer).__name__}"
        return [HookOutcome(i.record_id, "ProcessingFailed", error_code="Hook.InvalidResponse",
                            error_message=message, attempts=attempts) for i in chunk]
    wanted = {i.record_id for i in chunk}
    seen: dict[str, HookOutcome] = {}
    duplicated: set[str] = set()
    for item in answer:
        record_id = item.get("recordId") if isinstance(item, dict) else None
        if not isinstance(record_id, str) or record_id not in wanted:
            continue  # an unknown id: the record it should have been is reported missing
        if record_id in seen:
            duplicated.add(record_id)
            continue
        seen[record_id] = _outcome(record_id, item, attempts)
    out: list[HookOutcome] = []
    for i in chunk:
        if i.record_id in duplicated:
            out.append(_failed(i.record_id, "Hook.DuplicateRecordId",
                               "the recordId was answered more than once", attempts))
        elif i.record_id not in seen:
            out.append(_failed(i.record_id, "Hook.MissingRecordId",
                               "the answer has no record with this recordId", attempts))
        else:
            out.append(seen[i.record_id])
    return out


def _failed(record_id: str, code: str, message: str, attempts: int) -> HookOutcome:
    return HookOutcome(record_id, "ProcessingFailed", error_code=code, error_message=message,
                       attempts=attempts)


def _outcome(record_id: str, item: dict[str, Any], attempts: int) -> HookOutcome:
    result = item.get("result")
    if result not in RESULTS:
        return _failed(record_id, "Hook.InvalidResult",
                       f"result must be one of {', '.join(RESULTS)}, got {result!r}", attempts)
    if result == "Dropped":
        return HookOutcome(record_id, "Dropped", attempts=attempts)
    if result == "ProcessingFailed":
        return _failed(record_id, "Hook.ProcessingFailed",
                       "the hook returned ProcessingFailed", attempts)
    data = item.get("data")
    if not isinstance(data, str):
        return _failed(record_id, "Hook.InvalidData", "data must be a base64 string", attempts)
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return _failed(record_id, "Hook.InvalidData", "data is not valid base64", attempts)
    keys: tuple[tuple[str, str], ...] = ()
    metadata = item.get("metadata")
    if metadata is not None:
        raw = metadata.get("partitionKeys") if isinstance(metadata, dict) else None
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            return _failed(record_id, "Hook.InvalidMetadata",
                           "metadata.partitionKeys must map strings to strings", attempts)
        keys = tuple(raw.items())
    return HookOutcome(record_id, "Ok", decoded, keys, attempts=attempts)
