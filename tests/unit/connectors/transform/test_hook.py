import asyncio
import base64
import time
from typing import Any

import pytest

from connectors.transform import HookInput, ProcessingHook, load_callable
from ground.errors import ConfigError


async def _no_sleep(_s: float) -> None:
    return None


def _inputs(*values: bytes) -> list[HookInput]:
    return [HookInput(f"id{i}", v, 1000 + i) for i, v in enumerate(values)]


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def upper(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"recordId": r["recordId"], "result": "Ok",
             "data": _b64(base64.b64decode(r["data"]).upper())} for r in records]


def run(hook: ProcessingHook, inputs: list[HookInput]) -> list[Any]:
    return asyncio.run(hook.process(inputs))


def test_sync_hook_ok_and_request_shape() -> None:
    seen: list[list[dict[str, Any]]] = []

    def hook(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen.append(records)
        return upper(records)

    out = run(ProcessingHook(hook), _inputs(b"ab", b"cd"))
    assert [(o.result, o.data) for o in out] == [("Ok", b"AB"), ("Ok", b"CD")]
    assert seen == [[{"recordId": "id0", "approximateArrivalTimestamp": 1000, "data": _b64(b"ab")},
                     {"recordId": "id1", "approximateArrivalTimestamp": 1001, "data": _b64(b"cd")}]]


def test_async_hook_and_records_envelope_and_partition_keys() -> None:
    async def hook(records: list[dict[str, Any]]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"],
                             "metadata": {"partitionKeys": {"c": "x"}}} for r in records]}

    out = run(ProcessingHook(hook), _inputs(b"a"))
    assert out[0].partition_keys == (("c", "x"),) and out[0].data == b"a"


def test_dropped_and_processing_failed() -> None:
    def hook(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"recordId": records[0]["recordId"], "result": "Dropped"},
                {"recordId": records[1]["recordId"], "result": "ProcessingFailed",
                 "data": records[1]["data"]}]

    out = run(ProcessingHook(hook), _inputs(b"a", b"b"))
    assert [o.result for o in out] == ["Dropped", "ProcessingFailed"]
    assert out[1].error_code == "Hook.ProcessingFailed"


def test_contract_violations_fail_only_the_records_concerned() -> None:
    def hook(records: list[dict[str, Any]]) -> list[Any]:
        ids = [r["recordId"] for r in records]
        return [
            {"recordId": ids[0], "result": "Ok", "data": _b64(b"fine")},
            {"recordId": ids[1], "result": "Maybe", "data": _b64(b"x")},
            {"recordId": ids[2], "result": "Ok", "data": "!!not base64!!"},
            {"recordId": ids[3], "result": "Ok", "data": _b64(b"1")},
            {"recordId": ids[3], "result": "Ok", "data": _b64(b"2")},
            # ids[4] missing
            {"recordId": "unknown", "result": "Ok", "data": _b64(b"z")},
            {"recordId": ids[5], "result": "Ok", "data": _b64(b"k"),
             "metadata": {"partitionKeys": {"n": 1}}},
            "junk",
        ]

    out = run(ProcessingHook(hook), _inputs(*(bytes([65 + i]) for i in range(6))))
    assert [o.result for o in out] == ["Ok"] + ["ProcessingFailed"] * 5
    assert [o.error_code for o in out[1:]] == [
        "Hook.InvalidResult", "Hook.InvalidData", "Hook.DuplicateRecordId",
        "Hook.MissingRecordId", "Hook.InvalidMetadata"]


def test_non_list_answer_fails_every_record() -> None:
    out = run(ProcessingHook(lambda records: None), _inputs(b"a", b"b"))
    assert {o.error_code for o in out} == {"Hook.InvalidResponse"}


def test_exceptions_are_retried_then_fail_with_attempts() -> None:
    calls = []

    def flaky(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("boom")
        return upper(records)

    out = run(ProcessingHook(flaky, retries=3, sleep=_no_sleep), _inputs(b"a"))
    assert out[0].data == b"A" and out[0].attempts == 3

    calls.clear()

    def broken(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        calls.append(1)
        raise RuntimeError("always")

    out = run(ProcessingHook(broken, retries=2, sleep=_no_sleep), _inputs(b"a", b"b"))
    assert len(calls) == 3
    assert all(o.result == "ProcessingFailed" and o.error_code == "Hook.InvocationFailed"
               and o.attempts == 3 and "always" in o.error_message for o in out)


def test_timeouts_are_retried_sync_and_async() -> None:
    async def slow_async(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await asyncio.sleep(5)
        return upper(records)

    def slow_sync(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        time.sleep(0.2)
        return upper(records)

    for fn in (slow_async, slow_sync):
        started = time.monotonic()
        out = run(ProcessingHook(fn, retries=1, timeout_ms=50, sleep=_no_sleep), _inputs(b"a"))
        assert out[0].error_code == "Hook.Timeout" and out[0].attempts == 2
        assert time.monotonic() - started < 2


def test_calls_are_chunked_by_buffer_size() -> None:
    sizes: list[int] = []

    def hook(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sizes.append(len(records))
        return upper(records)

    values = [b"x" * 400] * 5 + [b"y" * 2000]
    out = run(ProcessingHook(hook, buffer_size_bytes=1000), _inputs(*values))
    assert sizes == [2, 2, 1, 1]  # an oversized record still goes alone
    assert [o.data for o in out] == [v.upper() for v in values]


def test_load_callable() -> None:
    fn = load_callable("examples.hooks.hooks:enrich")
    assert callable(fn)
    for spec in ("nocolon", "no_such_module_xyz:f", "examples.hooks.hooks:nope",
                 "examples.hooks.hooks:__doc__"):
        with pytest.raises(ConfigError) as err:
            load_callable(spec, field="s3.processing.hook.callable")
        assert err.value.field == "s3.processing.hook.callable"
