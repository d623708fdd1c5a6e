"""A processing hook that fails on purpose, deterministically by record id (fault scenario 9).

Each record's data is a JSON object with an integer ``id``. :func:`flaky` raises for every call
holding an id with ``id % 10 == RAISE_REMAINDER`` and outlasts any ``timeout_ms`` below
``HANG_S`` for an id with ``id % 10 == HANG_REMAINDER``; the others pass through unchanged.
With one record per call (records larger than half the hook's buffer size), exactly those
records fail. Every call is logged, as a JSON list of its ids, one line per call, to the file
named by ``SHARDLINE_IT_HOOK_CALLS`` (if set), so a test can count the attempts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

__all__ = ["CALLS_ENV", "HANG_REMAINDER", "HANG_S", "RAISE_REMAINDER", "flaky", "verdict"]

CALLS_ENV = "SHARDLINE_IT_HOOK_CALLS"
RAISE_REMAINDER = 3
HANG_REMAINDER = 6
HANG_S = 30.0  # cancelled by the hook's timeout long before


def verdict(record_id: int) -> str:
    """What the hook does with ``record_id``: ``raise``, ``hang`` or ``ok``."""
    if record_id % 10 == RAISE_REMAINDER:
        return "raise"
    if record_id % 10 == HANG_REMAINDER:
        return "hang"
    return "ok"


async def flaky(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [json.loads(base64.b64decode(r["data"]))["id"] for r in records]
    path = os.environ.get(CALLS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(ids) + "\n")
    kinds = {verdict(i) for i in ids}
    if "raise" in kinds:
        raise RuntimeError(f"the hook refuses ids {ids}")
    if "hang" in kinds:
        await asyncio.sleep(HANG_S)
    return [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in records]
