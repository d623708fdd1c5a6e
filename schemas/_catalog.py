"""Where a schema named in a configuration comes from.

A name (an SQL application's ``AvroSchema``, a delivery's Parquet ``schema``, the producer's
kind) is looked up, first found wins, in:

1. the user's folder, ``SHARDLINE_SCHEMA_DIR`` (``<name>.avsc``);
2. the schema registry, when ``SHARDLINE_SCHEMA_REGISTRY_URL`` is set: the latest version of
   the subject ``<name>`` (e.g. ``orders-value``), read once;
3. the bundled examples of this package (``ticker``, ``clickstream``, ``trade``).

Avro records name their writer's schema by id. With a registry the ids are the registry's
(any id it knows is read, and resolved to the reader's schema); without one, the fixed ids
of ``ids.json`` in the bundled package and in the user's folder.

A process has one default catalog (:func:`default_catalog`): the bundled schemas alone until
an entry point installs the one of its settings (:func:`use_catalog` with
:func:`catalog_for`), as the ``shardline`` command does at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ground.errors import ConfigError
from ground.settings import Settings
from schemas._local import IDS_FILE, SchemaFolder, bundled
from schemas._registry import RegistryConfig, SchemaRegistry

__all__ = [
    "SchemaCatalog",
    "SchemaSources",
    "catalog_for",
    "default_catalog",
    "load_schema",
    "schema_id",
    "schema_name_for_id",
    "schema_names",
    "use_catalog",
]

SCHEMA_DIR_SETTING = "SHARDLINE_SCHEMA_DIR"


@dataclass(frozen=True, slots=True)
class SchemaSources:
    """The user's schema folder and schema registry; neither by default."""

    folder: Path | None = None
    registry: RegistryConfig | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SchemaSources:
        return cls(settings.schema_dir, RegistryConfig.from_settings(settings))


@dataclass(frozen=True, slots=True)
class _Found:
    schema: dict[str, Any] = field(repr=False)
    text: str = field(repr=False)
    origin: str  # "folder", "registry" or "bundled"
    fixed_id: int | None  # the local id, or the registry id of a subject's latest version


class SchemaCatalog:
    """Schemas by name (folder, registry subject, bundled) and, offline, by fixed id.
    ``registry`` replaces the one ``sources`` describes (tests pass one on a fake client)."""

    def __init__(
        self, sources: SchemaSources | None = None, *, registry: SchemaRegistry | None = None
    ) -> None:
        self.sources = sources or SchemaSources()
        folder = self.sources.folder
        self.folder = SchemaFolder.at(folder, where=SCHEMA_DIR_SETTING) if folder else None
        if registry is None and self.sources.registry is not None:
            registry = SchemaRegistry(self.sources.registry)
        self.registry = registry
        self._found: dict[str, _Found] = {}
        self._ids: dict[str, int] | None = None

    def __repr__(self) -> str:
        where = [str(self.sources.folder or "")] if self.folder else []
        if self.registry is not None:
            where.append(self.registry.url)
        return f"SchemaCatalog({', '.join([*where, 'bundled'])})"

    # -- by name -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The names of the file schemas (the user's folder and the bundled ones), sorted.
        Registry subjects are not listed: any subject can be named."""
        local = set(bundled().names())
        if self.folder is not None:
            local.update(self.folder.names())
        return sorted(local)

    def schema(self, name: str) -> dict[str, Any]:
        """The parsed schema ``name``; ConfigError naming ``schema`` if none is found."""
        return self._find(name).schema

    def text(self, name: str) -> str:
        """The JSON text of schema ``name`` (what the producer registers)."""
        return self._find(name).text

    def origin(self, name: str) -> str:
        """Where ``name`` was found: ``folder``, ``registry`` or ``bundled``."""
        return self._find(name).origin

    def fixed_id(self, name: str) -> int | None:
        """The id schema ``name`` has without registering it: its fixed id (``ids.json``)
        for a file, its id for a registry subject; None for a file without one."""
        return self._find(name).fixed_id

    def _find(self, name: str) -> _Found:
        found = self._found.get(name)
        if found is None:
            found = self._found[name] = self._lookup(name)
        return found

    def _lookup(self, name: str) -> _Found:
        if self.folder is not None and name in self.folder:
            return _Found(self.folder.load(name), self.folder.text(name), "folder",
                          self.local_ids().get(name))
        if self.registry is not None:
            latest = self.registry.latest(name)
            if latest is not None:
                return _Found(latest.schema, latest.text, "registry", latest.id)
        files = bundled()
        if name in files:
            return _Found(files.load(name), files.text(name), "bundled", files.ids()[name])
        where = []
        if self.folder is not None:
            where.append(f"{self.sources.folder}")
        if self.registry is not None:
            where.append(f"a subject of the schema registry at {self.registry.url}")
        searched = f" (searched {', '.join(where)} and the bundled schemas)" if where else ""
        raise ConfigError(
            "schema", f"unknown schema {name!r}; known: {', '.join(self.names())}{searched}"
        )

    # -- fixed ids ---------------------------------------------------------------------------

    def local_ids(self) -> dict[str, int]:
        """Name → fixed id of the file schemas: the user's ``ids.json`` for the user's
        schemas, the bundled ``ids.json`` for the bundled ones not shadowed by the user's."""
        if self._ids is None:
            ids = dict(bundled().ids())
            if self.folder is not None:
                for name in self.folder.names():
                    ids.pop(name, None)  # the user's schema of that name: not the bundled id
                owners = {i: n for n, i in ids.items()}
                for name, sid in self.folder.ids().items():
                    if sid in owners:
                        raise ConfigError(
                            f"{SCHEMA_DIR_SETTING}/{IDS_FILE}",
                            f"id {sid} of {name!r} is already the id of {owners[sid]!r}",
                        )
                    ids[name] = sid
            self._ids = ids
        return self._ids

    def name_for_local_id(self, sid: int) -> str | None:
        """The file schema with fixed id ``sid``, or None."""
        for name, known in self.local_ids().items():
            if known == sid:
                return name
        return None


_BUNDLED_ONLY = SchemaCatalog()
_default: list[SchemaCatalog] = [_BUNDLED_ONLY]


def default_catalog() -> SchemaCatalog:
    """The process's catalog: the bundled schemas only, unless :func:`use_catalog` set one."""
    return _default[0]


def use_catalog(catalog: SchemaCatalog | None) -> SchemaCatalog:
    """Make ``catalog`` the process's default (None: the bundled schemas only again);
    returns the one it replaces."""
    previous = _default[0]
    _default[0] = catalog or _BUNDLED_ONLY
    return previous


def catalog_for(settings: Settings) -> SchemaCatalog:
    """The catalog of ``settings`` (``SHARDLINE_SCHEMA_DIR``, ``SHARDLINE_SCHEMA_REGISTRY_*``);
    the same object for the same settings, so its caches are shared within a process."""
    return _catalog_of(SchemaSources.from_settings(settings))


@cache
def _catalog_of(sources: SchemaSources) -> SchemaCatalog:
    if sources == SchemaSources():
        return _BUNDLED_ONLY
    return SchemaCatalog(sources)


# -- the module-level functions, on the default catalog ---------------------------------------


def schema_names() -> list[str]:
    """Names of the file schemas of the default catalog, sorted."""
    return default_catalog().names()


def load_schema(name: str) -> dict[str, Any]:
    """The parsed (fastavro) schema ``name`` of the default catalog; the same object every
    time."""
    return default_catalog().schema(name)


def schema_id(name: str) -> int:
    """The fixed Confluent schema id of ``name``; ConfigError if it has none."""
    sid = default_catalog().fixed_id(name)
    if sid is None:
        raise ConfigError(
            "schema",
            f"schema {name!r} has no id: add it to {SCHEMA_DIR_SETTING}/{IDS_FILE}, or "
            "use a schema registry",
        )
    return sid


def schema_name_for_id(sid: int) -> str | None:
    """The file schema of the default catalog with the fixed id ``sid``, or None."""
    return default_catalog().name_for_local_id(sid)

