"""Reading one mapping of a config document: the path for error messages, typed getters, and
refusing keys nobody read. Shared by Shardline's layout (:mod:`connectors.config`) and
Firehose's (:mod:`connectors.firehose_layout`), which add the getters their layouts need."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ground.errors import ConfigError

__all__ = ["MappingReader"]


class MappingReader:
    """One mapping with its path; every key read is marked, and ``done()`` refuses the rest."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path or "<root>", f"expected a mapping, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.seen: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        """The value under ``key`` (None when absent), marking it read."""
        self.seen.add(key)
        return self.data.get(key)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(self.name(key), f"expected true or false, got {value!r}")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(self.name(unknown[0]), "unknown setting")
