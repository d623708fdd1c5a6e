"""An in-memory stand-in for confluent-kafka's ``SchemaRegistryClient`` (the seam the
schemas package talks through), with the same answers and errors, counting its calls."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaReference
from confluent_kafka.schema_registry import SchemaRegistryError as ClientError

from ground.settings import Secret
from schemas import RegistryConfig, SchemaCatalog, SchemaRegistry, SchemaSources

__all__ = ["TICKER_V1", "TICKER_V2", "FakeClient", "catalog_on", "framed"]

TICKER_V1: dict[str, Any] = {
    "type": "record",
    "name": "Ticker",
    "namespace": "shardline.schemas",
    "fields": [
        {"name": "ticker_symbol", "type": "string"},
        {"name": "sector", "type": "string"},
        {"name": "change", "type": "double"},
        {"name": "price", "type": "double"},
        {"name": "event_time_ms", "type": "long"},
    ],
}
#: v1 plus a field with a default: compatible both ways.
TICKER_V2: dict[str, Any] = {
    **TICKER_V1,
    "fields": [*TICKER_V1["fields"], {"name": "exchange", "type": "string", "default": "XNYS"}],
}


class FakeClient:
    def __init__(self) -> None:
        self.schemas: dict[int, Schema] = {}
        self.subjects: dict[str, list[int]] = {}
        self.calls: Counter[str] = Counter()
        self.down = False
        self.refuse = False
        self.incompatible: set[str] = set()  # subjects that refuse any new schema

    def add(self, subject: str | None, schema: dict[str, Any] | str, *,
            schema_type: str = "AVRO", references: list[SchemaReference] | None = None) -> int:
        text = schema if isinstance(schema, str) else json.dumps(schema)
        sid = 100 + len(self.schemas)
        self.schemas[sid] = Schema(text, schema_type, references or [])
        if subject is not None:
            self.subjects.setdefault(subject, []).append(sid)
        return sid

    def _check(self, method: str) -> None:
        self.calls[method] += 1
        if self.down:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        if self.refuse:
            raise ClientError(401, 401, "Unauthorized")

    def get_schema(self, schema_id: int) -> Schema:
        self._check("get_schema")
        if schema_id not in self.schemas:
            raise ClientError(404, 40403, f"Schema {schema_id} not found")
        return self.schemas[schema_id]

    def get_latest_version(self, subject: str) -> RegisteredSchema:
        self._check("get_latest_version")
        return self.get_version(subject, len(self.subjects.get(subject, [])), count=False)

    def get_version(self, subject: str, version: int, *, count: bool = True) -> RegisteredSchema:
        if count:
            self._check("get_version")
        versions = self.subjects.get(subject)
        if not versions:
            raise ClientError(404, 40401, f"Subject '{subject}' not found.")
        sid = versions[version - 1]
        return RegisteredSchema(subject, version, sid, None, self.schemas[sid])

    def register_schema(self, subject: str, schema: Schema) -> int:
        self._check("register_schema")
        for sid in self.subjects.get(subject, []):
            if json.loads(self.schemas[sid].schema_str) == json.loads(schema.schema_str):
                return sid
        if subject in self.incompatible:
            raise ClientError(409, 409, "Schema being registered is incompatible")
        return self.add(subject, schema.schema_str)


def catalog_on(
    client: FakeClient, *, folder: Path | None = None, clock_ms: Callable[[], int] | None = None
) -> SchemaCatalog:
    """A catalog (with the user's ``folder``, if given) whose registry answers through
    ``client``."""
    config = RegistryConfig("http://registry.invalid:8081", user="svc",
                            password=Secret("s3cr3t-pw"))
    registry = SchemaRegistry(config, client=client, clock_ms=clock_ms)
    return SchemaCatalog(SchemaSources(folder=folder, registry=config), registry=registry)


def framed(sid: int, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """``record`` written with ``schema`` in the Confluent wire format under id ``sid``."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return b"\x00" + sid.to_bytes(4, "big") + body.getvalue()
