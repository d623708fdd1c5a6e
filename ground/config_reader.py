"""Reading config documents: :func:`load_document` parses a YAML, JSON or TOML file, and
:class:`MappingReader` reads one mapping of it with its path for error messages, typed
getters, and refusing keys nobody read (``done()``) or keys not in a list of known ones
(``check_keys``). Every config of Shardline (delivery files in both layouts, SQL
applications) is read with these; :class:`TypedReader` adds the getters of a layout where an
absent key takes its default (SQL applications), and other layouts add their own."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar, overload

import yaml

from ground.errors import ConfigError

__all__ = ["MappingReader", "TypedReader", "describe", "load_document"]

E = TypeVar("E", bound=StrEnum)


def describe(value: object) -> str:
    """What a value is, for an error message: ``nothing`` (None) or its type's name."""
    return "nothing" if value is None else type(value).__name__


class MappingReader:
    """One mapping with its path; every key read is marked, and ``done()`` refuses the rest."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path or "<root>", f"expected a mapping, got {describe(data)}")
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

    @overload
    def integer(self, key: str, lo: int, hi: int | None, default: int) -> int: ...

    @overload
    def integer(self, key: str, lo: int, hi: int | None, default: None = None) -> int | None: ...

    def integer(self, key: str, lo: int, hi: int | None, default: int | None = None) -> int | None:
        """An integer from ``lo`` to ``hi`` (None: no upper bound); ``default`` when absent."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.name(key), f"expected an integer, got {value!r}")
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise ConfigError(self.name(key), f"must be {bound}, got {value}")
        return value

    def enum(self, key: str, kind: type[E], default: E, *, upper: bool = False) -> E:
        """A member of ``kind`` named by its value (upper-cased first with ``upper``);
        ``default`` when absent."""
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ConfigError(self.name(key), f"expected a string, got {value!r}")
        try:
            return kind(value.upper() if upper else value)
        except ValueError:
            choices = ", ".join(member.value for member in kind)
            raise ConfigError(self.name(key), f"one of {choices}, got {value!r}") from None

    def alias(self, *keys: str) -> str | None:
        """The one of ``keys`` that is set (one setting under two names), or None.

        A key set to null reads as absent (as in every other getter)."""
        self.seen.update(k for k in keys if k in self.data and self.data[k] is None)
        present = [k for k in keys if self.data.get(k) is not None]
        if len(present) > 1:
            raise ConfigError(self.name(present[1]), f"set only one of {', '.join(present)}")
        return present[0] if present else None

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(self.name(unknown[0]), "unknown setting")

    def check_keys(self, known: Sequence[str]) -> None:
        """Refuse a key that is not one of ``known``, listing them."""
        for key in self.data:
            if key not in known:
                raise ConfigError(
                    self.name(str(key)), f"unknown setting; known: {', '.join(known)}"
                )


class TypedReader(MappingReader):
    """A :class:`MappingReader` whose getters give a default for an absent (or null) key and
    refuse a value of the wrong type, naming the field; sections and list items are readers
    of their own, with their paths (``Inputs[0].InputSchema``)."""

    def string(self, key: str, default: str | None = None) -> str:
        """A string; required when there is no ``default``."""
        value = self.get(key)
        if value is None:
            if default is None:
                raise ConfigError(self.name(key), "is required")
            return default
        if not isinstance(value, str):
            raise ConfigError(self.name(key), f"expected a string, got {describe(value)}")
        return value

    def choice(self, key: str, enum: type[E], default: E | None = None) -> E:
        """A member of ``enum``, by its value in any case; required without ``default``."""
        value = self.get(key)
        if value is None:
            if default is None:
                raise ConfigError(self.name(key), f"is required: one of {_values(enum)}")
            return default
        if isinstance(value, str):
            for member in enum:
                if member.value == value.upper():
                    return member
        raise ConfigError(self.name(key), f"one of {_values(enum)}, got {value!r}")

    def section(self, key: str, *, required: bool = False) -> TypedReader:
        """The mapping under ``key``; an absent one reads as empty unless ``required``."""
        value = self.get(key)
        if value is None:
            if required:
                raise ConfigError(self.name(key), "is required")
            value = {}
        return TypedReader(value, self.name(key))

    def items(self, key: str, *, required: bool = False) -> list[TypedReader]:
        """The mappings of the list under ``key`` (``[]`` when absent, unless ``required``)."""
        value = self.get(key)
        if value is None:
            if required:
                raise ConfigError(self.name(key), "is required: a list")
            return []
        if not isinstance(value, list):
            raise ConfigError(self.name(key), f"expected a list, got {describe(value)}")
        return [TypedReader(item, f"{self.name(key)}[{i}]") for i, item in enumerate(value)]


def _values(enum: type[StrEnum]) -> str:
    return " | ".join(m.value for m in enum)


def load_document(path: Path) -> Any:
    """A config file's document: ``.toml`` with tomllib, ``.json`` as JSON, else YAML.

    Every failure is a :class:`ConfigError` naming the file."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        kind = {".toml": "TOML", ".json": "JSON"}.get(suffix, "YAML")
        raise ConfigError(str(path), f"not valid {kind}: {exc}") from None
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
