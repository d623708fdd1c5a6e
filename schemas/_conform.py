"""Check a JSON-like value against a parsed Avro schema and bring it to the Avro shape.

fastavro's own validation answers "is it valid?"; decoding needs *why not*, in words an
operator can act on ("missing field 'price'", "field 'price' is not a number"). This module
walks the schema once per value and returns a new value: integers widened to floats where
the schema says double/float, defaults filled in for absent fields that have one, and
fields the schema does not know dropped (the JSON input mapping of Kinesis Data Analytics
also ignores unmapped members). Failures raise :class:`Mismatch` with the reason.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Mismatch", "conform"]

_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_KIND = {
    "null": "null",
    "boolean": "a boolean",
    "int": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "string": "a string",
    "bytes": "a string",
    "record": "an object",
    "map": "an object",
    "array": "an array",
    "enum": "a string",
    "fixed": "a string",
}


class Mismatch(ValueError):
    """The value does not fit the schema; ``str()`` is the reason."""


def conform(schema: Any, value: Any) -> Any:
    """Return ``value`` shaped for ``schema`` (a fastavro-parsed schema) or raise Mismatch."""
    named = schema.get("__named_schemas", {}) if isinstance(schema, dict) else {}
    return _conform(schema, value, named, "")


def _where(path: str) -> str:
    return f"field {path!r}" if path else "value"


def _describe(schema: Any, named: dict[str, Any]) -> str:
    schema = _resolve(schema, named)
    if isinstance(schema, list):
        return " or ".join(dict.fromkeys(_describe(s, named) for s in schema))
    kind = schema if isinstance(schema, str) else schema["type"]
    return _KIND.get(kind, kind)


def _resolve(schema: Any, named: dict[str, Any]) -> Any:
    if isinstance(schema, str) and schema in named:
        return named[schema]
    if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
        return schema["type"]
    if isinstance(schema, dict) and schema.get("type") in _KIND and len(schema) == 1:
        return schema["type"]
    return schema


def _conform(schema: Any, value: Any, named: dict[str, Any], path: str) -> Any:
    schema = _resolve(schema, named)
    if isinstance(schema, list):
        return _conform_union(schema, value, named, path)
    kind = schema if isinstance(schema, str) else schema.get("type")
    if isinstance(kind, str) and kind in named:
        return _conform(named[kind], value, named, path)
    if kind == "null":
        if value is not None:
            raise Mismatch(f"{_where(path)} is not null")
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise Mismatch(f"{_where(path)} is not a boolean")
        return value
    if kind in ("int", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise Mismatch(f"{_where(path)} is not an integer")
        lo, hi = _INT_RANGE[kind]
        if not lo <= value <= hi:
            raise Mismatch(f"{_where(path)} is out of range for {kind}: {value}")
        return value
    if kind in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise Mismatch(f"{_where(path)} is not a number")
        return float(value)
    if kind == "string":
        if not isinstance(value, str):
            raise Mismatch(f"{_where(path)} is not a string")
        return value
    if kind in ("bytes", "fixed"):
        if isinstance(value, str):
            value = value.encode("latin-1", errors="strict")
        if not isinstance(value, bytes):
            raise Mismatch(f"{_where(path)} is not bytes")
        if kind == "fixed" and len(value) != schema["size"]:
            raise Mismatch(f"{_where(path)} is not {schema['size']} bytes long")
        return value
    if kind == "enum":
        if value not in schema["symbols"]:
            raise Mismatch(f"{_where(path)} is not one of {schema['symbols']}: {value!r}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise Mismatch(f"{_where(path)} is not an array")
        return [_conform(schema["items"], v, named, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise Mismatch(f"{_where(path)} is not an object")
        return {k: _conform(schema["values"], v, named, f"{path}.{k}") for k, v in value.items()}
    if kind == "record":
        return _conform_record(schema, value, named, path)
    raise Mismatch(f"{_where(path)}: unsupported schema type {kind!r}")


def _conform_union(branches: list[Any], value: Any, named: dict[str, Any], path: str) -> Any:
    if value is None:
        if "null" in branches:
            return None
        raise Mismatch(f"{_where(path)} is null")
    for branch in branches:
        if branch == "null":
            continue
        try:
            return _conform(branch, value, named, path)
        except Mismatch:
            continue
    raise Mismatch(f"{_where(path)} is not {_describe(branches, named)}")


def _conform_record(schema: dict[str, Any], value: Any, named: dict[str, Any], path: str) -> Any:
    if not isinstance(value, dict):
        raise Mismatch(f"{_where(path)} is not an object")
    out: dict[str, Any] = {}
    for field in schema["fields"]:
        name = field["name"]
        sub = f"{path}.{name}" if path else name
        if name in value:
            out[name] = _conform(field["type"], value[name], named, sub)
        elif "default" in field:
            out[name] = field["default"]
        else:
            raise Mismatch(f"missing field {sub!r}")
    return out
