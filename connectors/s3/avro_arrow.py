"""An Avro schema as an Arrow schema: the table a Parquet object is written as.

The schema is named as everywhere else (:class:`schemas.SchemaCatalog`): a ``.avsc`` of the
user's folder (``SHARDLINE_SCHEMA_DIR``), the latest version of a subject of the schema
registry (``SHARDLINE_SCHEMA_REGISTRY_URL``), or a bundled example — read once per process.

==================================== ==================================================
Avro                                 Arrow
==================================== ==================================================
null                                 null
boolean / int / long                 bool / int32 / int64
float / double                       float32 / float64
string (also logical ``uuid``)       string
bytes / fixed(n)                     binary / fixed_size_binary(n)
enum                                 string (the symbol)
record                               struct (nested records too)
array / map                          list / map<string, …>
``[null, T]`` / ``[T, null]``        T, nullable
date                                 date32
time-millis / time-micros            time32[ms] / time64[us]
timestamp-millis / -micros           timestamp[ms, UTC] / timestamp[us, UTC]
local-timestamp-millis / -micros     timestamp[ms] / timestamp[us] (no time zone)
decimal(p, s) on bytes or fixed      decimal128(p, s) (decimal256 above 38 digits)
==================================== ==================================================

Nullability follows the schema (a field is nullable when its type is a union with null), unless
``all_nullable``: a Glue/Hive table — what Firehose converts with — has no required columns, so
the Parquet encoder writes every column OPTIONAL and a missing JSON field becomes null.

Unions of two or more non-null types have no Parquet equivalent (Hive's ``uniontype`` is not
supported by Firehose's serializers either) and are a :class:`ConfigError`. Unknown logical
types fall back to their underlying type, as the Avro specification requires.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa

from ground.errors import ConfigError
from schemas import SchemaCatalog, default_catalog

__all__ = ["arrow_schema", "avro_to_arrow", "schema_for"]

_PRIMITIVES: dict[str, pa.DataType] = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_LOGICAL: dict[tuple[str, str], pa.DataType] = {
    ("int", "date"): pa.date32(),
    ("int", "time-millis"): pa.time32("ms"),
    ("long", "time-micros"): pa.time64("us"),
    ("long", "timestamp-millis"): pa.timestamp("ms", tz="UTC"),
    ("long", "timestamp-micros"): pa.timestamp("us", tz="UTC"),
    ("long", "local-timestamp-millis"): pa.timestamp("ms"),
    ("long", "local-timestamp-micros"): pa.timestamp("us"),
    ("string", "uuid"): pa.string(),
}
MAX_DECIMAL128_PRECISION = 38


def avro_to_arrow(schema: dict[str, Any], *, all_nullable: bool = False) -> pa.Schema:
    """The Arrow schema of a (fastavro-parsed or plain JSON) Avro *record* schema."""
    named: dict[str, Any] = dict(schema.get("__named_schemas", {}))
    _collect(schema, named, schema.get("namespace", ""))
    if _kind(schema) != "record":
        raise ConfigError("schema", f"expected a record schema, got {_kind(schema)!r}")
    context = _Context(named, all_nullable)
    return pa.schema(
        [context.field(f, schema.get("name", "")) for f in schema["fields"]],
        metadata={"avro.name": str(schema.get("name", ""))},
    )


def schema_for(name: str, catalog: SchemaCatalog | None = None) -> pa.Schema:
    """The Arrow schema a Parquet object of the schema ``name`` is written with (every column
    nullable, as a Glue table), from ``catalog`` (the process's default when None).
    ConfigError naming ``schema`` for an unknown name."""
    return _table_schema(catalog or default_catalog(), name)


@cache
def _table_schema(catalog: SchemaCatalog, name: str) -> pa.Schema:
    return avro_to_arrow(catalog.schema(name), all_nullable=True)


def arrow_schema(
    name: str, *, all_nullable: bool = False, catalog: SchemaCatalog | None = None
) -> pa.Schema:
    """The Arrow schema of the schema ``name``, nullability as declared unless
    ``all_nullable``."""
    return avro_to_arrow((catalog or default_catalog()).schema(name), all_nullable=all_nullable)


def _kind(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    kind = schema.get("type")
    return kind if isinstance(kind, str) else _kind(kind)


def _collect(schema: Any, named: dict[str, Any], namespace: str) -> None:
    """Index named types of a plain (unparsed) schema by short and full name."""
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, named, namespace)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind in ("record", "enum", "fixed") and "name" in schema:
        name = schema["name"]
        ns = schema.get("namespace", namespace)
        named.setdefault(name, schema)
        if "." not in name and ns:
            named.setdefault(f"{ns}.{name}", schema)
        namespace = ns
    if kind == "record":
        for field in schema.get("fields", []):
            _collect(field["type"], named, namespace)
    elif kind == "array":
        _collect(schema.get("items"), named, namespace)
    elif kind == "map":
        _collect(schema.get("values"), named, namespace)
    elif isinstance(kind, (dict, list)):
        _collect(kind, named, namespace)


class _Context:
    def __init__(self, named: dict[str, Any], all_nullable: bool) -> None:
        self.named = named
        self.all_nullable = all_nullable

    def field(self, field: dict[str, Any], where: str) -> pa.Field:
        path = f"{where}.{field['name']}" if where else field["name"]
        dtype, nullable = self.type(field["type"], path)
        return pa.field(field["name"], dtype, nullable=nullable or self.all_nullable)

    def type(self, schema: Any, path: str) -> tuple[pa.DataType, bool]:
        """(Arrow type, nullable) of an Avro type."""
        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            if len(branches) != 1:
                if not branches:
                    return pa.null(), True
                raise ConfigError(
                    f"schema {path}",
                    f"a union of several non-null types {schema} has no Parquet equivalent",
                )
            dtype, _ = self.type(branches[0], path)
            return dtype, len(branches) < len(schema)
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVES[schema], schema == "null"
            if schema in self.named:
                return self.type(self.named[schema], path)
            raise ConfigError(f"schema {path}", f"unknown Avro type {schema!r}")
        kind = schema.get("type")
        if isinstance(kind, (dict, list)):
            return self.type(kind, path)
        logical = schema.get("logicalType")
        if logical == "decimal" and kind in ("bytes", "fixed"):
            precision, scale = int(schema["precision"]), int(schema.get("scale", 0))
            if precision > MAX_DECIMAL128_PRECISION:
                return pa.decimal256(precision, scale), False
            return pa.decimal128(precision, scale), False
        if logical is not None and (kind, logical) in _LOGICAL:
            return _LOGICAL[(kind, logical)], False
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind], kind == "null"
        if kind == "record":
            children = [self.field(f, path) for f in schema["fields"]]
            return pa.struct(children), False
        if kind == "enum":
            return pa.string(), False
        if kind == "fixed":
            return pa.binary(int(schema["size"])), False
        if kind == "array":
            item, item_nullable = self.type(schema["items"], f"{path}[]")
            return pa.list_(pa.field("element", item, item_nullable or self.all_nullable)), False
        if kind == "map":
            value, value_nullable = self.type(schema["values"], f"{path}{{}}")
            return pa.map_(pa.string(), pa.field(
                "value", value, value_nullable or self.all_nullable)), False
        raise ConfigError(f"schema {path}", f"unsupported Avro type {kind!r}")
