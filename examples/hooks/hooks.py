"""Example processing hooks (Firehose's transformation Lambda contract).

Use one in a delivery config as ``processing: {hook: {callable:
"examples.hooks.hooks:enrich"}}``. Each takes the list of records
``{"recordId", "approximateArrivalTimestamp", "data"}`` (data base64) and answers one
``{"recordId", "result", "data"}`` per record.

The callable is an import path: ``examples.hooks.hooks`` imports with the repository root on
the Python path (``PYTHONPATH=. shardline deliver …`` in a checkout). Your own hooks live in
a module of yours, on the path the same way.
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["enrich", "enrich_async", "partition_by_customer"]


def _decode(record: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(record["data"]))


def _encode(doc: Any) -> str:
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode("ascii")


def enrich(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds ``"processed": true``; drops records with ``"drop": true``; fails non-JSON ones
    and those with ``"fail": true``."""
    out: list[dict[str, Any]] = []
    for record in records:
        rid = record["recordId"]
        try:
            doc = _decode(record)
        except ValueError:
            out.append({"recordId": rid, "result": "ProcessingFailed", "data": record["data"]})
            continue
        if not isinstance(doc, dict) or doc.get("fail"):
            out.append({"recordId": rid, "result": "ProcessingFailed", "data": record["data"]})
        elif doc.get("drop"):
            out.append({"recordId": rid, "result": "Dropped", "data": record["data"]})
        else:
            doc["processed"] = True
            out.append({"recordId": rid, "result": "Ok", "data": _encode(doc)})
    return out


async def enrich_async(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`enrich` as a coroutine (async hooks are awaited on the event loop)."""
    return enrich(records)


def partition_by_customer(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Passes records through with ``metadata.partitionKeys`` = ``{"customer": …}`` (for
    ``!{partitionKeyFromLambda:customer}``), in Lambda's ``{"records": [...]}`` shape."""
    out = []
    for record in records:
        doc = _decode(record)
        out.append({"recordId": record["recordId"], "result": "Ok", "data": record["data"],
                    "metadata": {"partitionKeys": {"customer": str(doc.get("customer_id"))}}})
    return {"records": out}
