"""The bundled Avro schemas and their Confluent schema ids.

Schemas are the ``*.avsc`` files of this package; ``ids.json`` maps each schema name (the
file name without ``.avsc``) to the integer id written in the Confluent wire format. Both
are read once and cached: :func:`load_schema` returns the same parsed object every time.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import fastavro

from ground.errors import ConfigError

__all__ = ["load_schema", "schema_id", "schema_name_for_id", "schema_names"]

_PACKAGE = "schemas"
_IDS_FILE = "ids.json"


@cache
def _ids() -> dict[str, int]:
    raw = json.loads(resources.files(_PACKAGE).joinpath(_IDS_FILE).read_text("utf-8"))
    ids: dict[str, int] = {}
    for name, value in raw.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
            raise ConfigError(f"schemas/{_IDS_FILE}", f"id of {name!r} is not an int32: {value!r}")
        ids[name] = value
    if len(set(ids.values())) != len(ids):
        raise ConfigError(f"schemas/{_IDS_FILE}", "schema ids are not unique")
    return ids


@cache
def _names_by_id() -> dict[int, str]:
    return {v: k for k, v in _ids().items()}


def schema_names() -> list[str]:
    """Names of the bundled schemas, sorted."""
    return sorted(_ids())


def schema_id(name: str) -> int:
    """The Confluent schema id of ``name``; ConfigError if it has none."""
    try:
        return _ids()[name]
    except KeyError:
        raise ConfigError("schema", f"unknown schema {name!r}; known: {schema_names()}") from None


def schema_name_for_id(sid: int) -> str | None:
    """The schema name registered under ``sid``, or None."""
    return _names_by_id().get(sid)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed (fastavro) schema ``name``; cached, so the same object is returned."""
    schema_id(name)  # unknown names fail with the list of known ones
    path = resources.files(_PACKAGE).joinpath(f"{name}.avsc")
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError("schema", f"schema {name!r} has an id but no {name}.avsc") from None
    parsed = fastavro.parse_schema(json.loads(text))
    if not isinstance(parsed, dict):
        raise ConfigError("schema", f"{name}.avsc is not a record schema")
    return parsed
