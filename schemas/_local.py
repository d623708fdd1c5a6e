"""Schemas kept as files: a folder of ``<name>.avsc`` files, with their ids in ``ids.json``.

Two such folders exist: the bundled examples (this package: ``ticker``, ``clickstream``,
``trade``, each with an id) and the user's own, named by ``SHARDLINE_SCHEMA_DIR``. In the
user's folder ``ids.json`` is optional: a schema without an id serves JSON records, Parquet
conversion and, with a schema registry, Avro (the registry gives the id); only Avro without
a registry needs the fixed id. Files are read once; :meth:`SchemaFolder.load` returns the same
parsed object every time.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import fastavro

from ground.errors import ConfigError

__all__ = ["IDS_FILE", "SchemaFolder", "bundled"]

IDS_FILE = "ids.json"
_SUFFIX = ".avsc"


class SchemaFolder:
    """The ``.avsc`` files of one folder. ``where`` names it in errors (a setting or a path);
    with ``ids_required`` every schema needs an id (the bundled ones)."""

    def __init__(self, root: Traversable, *, where: str, ids_required: bool = False) -> None:
        self.root = root
        self.where = where
        self.ids_required = ids_required
        self._parsed: dict[str, dict[str, Any]] = {}
        self._texts: dict[str, str] = {}
        self._ids: dict[str, int] | None = None
        self._names: list[str] | None = None

    @classmethod
    def at(cls, path: Path, *, where: str) -> SchemaFolder:
        """The user's folder at ``path``; ConfigError naming ``where`` if it is not one."""
        if not path.is_dir():
            raise ConfigError(where, f"{path} is not a folder")
        return cls(path, where=where)

    def names(self) -> list[str]:
        """The schema names (file names without ``.avsc``), sorted."""
        if self._names is None:
            names = sorted(
                p.name[: -len(_SUFFIX)]
                for p in self.root.iterdir()
                if p.name.endswith(_SUFFIX) and p.is_file()
            )
            if self.ids_required:
                missing = sorted(set(self.ids()) - set(names))
                if missing:
                    raise ConfigError(
                        f"{self.where}/{IDS_FILE}", f"ids for missing schemas: {missing}"
                    )
                names = [n for n in names if n in self.ids()]
            self._names = names
        return self._names

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def text(self, name: str) -> str:
        """The schema's JSON text, as written (what is registered in a schema registry)."""
        if name not in self._texts:
            if name not in self:
                raise ConfigError("schema", f"no schema {name!r} in {self.where}")
            self._texts[name] = self.root.joinpath(name + _SUFFIX).read_text("utf-8")
        return self._texts[name]

    def load(self, name: str) -> dict[str, Any]:
        """The parsed (fastavro) record schema ``name``; ConfigError if it is not valid."""
        parsed = self._parsed.get(name)
        if parsed is None:
            parsed = self._parsed[name] = parse_record_schema(
                self.text(name), f"{self.where}/{name}{_SUFFIX}"
            )
        return parsed

    def ids(self) -> dict[str, int]:
        """Schema name → Confluent schema id, from ``ids.json`` (empty without one)."""
        if self._ids is None:
            self._ids = self._read_ids()
        return self._ids

    def _read_ids(self) -> dict[str, int]:
        where = f"{self.where}/{IDS_FILE}"
        path = self.root.joinpath(IDS_FILE)
        if not path.is_file():
            if self.ids_required:
                raise ConfigError(where, "missing")
            return {}
        try:
            raw = json.loads(path.read_text("utf-8"))
        except ValueError as exc:
            raise ConfigError(where, f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(where, "expected an object of schema name to id")
        ids: dict[str, int] = {}
        for name, value in raw.items():
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
                raise ConfigError(where, f"id of {name!r} is not an int32: {value!r}")
            ids[name] = value
        if len(set(ids.values())) != len(ids):
            raise ConfigError(where, "schema ids are not unique")
        return ids


def parse_record_schema(text: str, where: str) -> dict[str, Any]:
    """``text`` parsed by fastavro; ConfigError naming ``where`` unless it is a record schema."""
    try:
        parsed = fastavro.parse_schema(json.loads(text))
    except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
        raise ConfigError(where, f"not a valid Avro schema: {exc}") from None
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise ConfigError(where, "not a record schema")
    return parsed


@cache
def bundled() -> SchemaFolder:
    """The example schemas shipped in this package (every one with a fixed id)."""
    return SchemaFolder(resources.files("schemas"), where="schemas", ids_required=True)
