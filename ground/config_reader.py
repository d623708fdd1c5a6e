"""Reading config documents: :func:`load_document` parses a YAML, JSON or TOML file, and
:class:`MappingReader` reads one mapping of it with its path for error messages, typed
getters, and refusing keys nobody read. Every config of Shardline (delivery files in both
layouts, SQL applications) is read with these; each layout adds the getters it needs."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ground.errors import ConfigError

__all__ = ["MappingReader", "load_document"]


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


def load_document(path: Path) -> Any:
    """A config file's document: ``.toml`` with tomllib, ``.json`` as JSON, else YAML.

    Every failure is a :class:`ConfigError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ConfigError(str(path), f"not valid JSON: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"not valid YAML: {exc}") from None
