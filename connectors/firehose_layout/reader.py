"""Reading a Firehose-layout document: paths in the user's layout, notices, the output mapping.

A :class:`Node` walks one mapping of the user's document and remembers which keys it used, so
``done()`` can refuse the rest (a typo is an error naming the field). A :class:`Translation`
collects the Shardline mapping being built, where each of its values came from (so an error
``DeliveryConfig.from_mapping`` raises on ``s3.buffering.size_mb`` can be reported as
``ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs``), and the notices about
fields that were ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ground.config_reader import MappingReader
from ground.errors import ConfigError

__all__ = ["Node", "Translation"]

log = logging.getLogger("connectors.firehose_layout")


@dataclass(slots=True)
class Translation:
    """The Shardline mapping built so far, its path map, and the notices."""

    mapping: dict[str, Any] = field(default_factory=dict)
    #: Shardline path (``s3.buffering.size_mb``) → path in the user's document.
    paths: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    #: Shardline paths set from one user value as it is (a mapping's own keys are the user's).
    values: set[str] = field(default_factory=set)

    def put(self, target: str, value: Any, source: str) -> None:
        """Set ``target`` (a dotted Shardline path) to ``value``, which came from ``source``."""
        *parents, last = target.split(".")
        node = self.mapping
        for i, part in enumerate(parents):
            node = node.setdefault(part, {})
            self.paths.setdefault(".".join(parents[: i + 1]), _parent(source))
        node[last] = value
        self.paths[target] = source
        self.values.add(target)

    def section(self, target: str, source: str) -> None:
        """Name where a whole Shardline section came from (errors about it, e.g. a missing
        required key, are then reported there)."""
        self.paths[target] = source

    def notice(self, path: str, why: str) -> None:
        message = f"{path}: ignored ({why})"
        self.notices.append(message)
        log.info("%s", message)

    def source_of(self, target: str) -> str | None:
        """Where the Shardline path ``target`` came from: itself, or its nearest parent (and
        below a user value passed on as it is, such as a mapping, the same keys)."""
        below = ""
        while target:
            if target in self.paths:
                source = self.paths[target]
                return f"{source}{below}" if target in self.values else source
            target, _, last = target.rpartition(".")
            below = f".{last}{below}"
        return None


def _parent(path: str) -> str:
    return path.rpartition(".")[0] or path


class Node(MappingReader):
    """One mapping of the user's document, with its path; ``done()`` refuses unread keys."""

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.get(key)
        if value is None:
            if required:
                raise ConfigError(self.name(key), "is required")
            return None
        if not isinstance(value, str):
            raise ConfigError(self.name(key), f"expected a string, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(key)
        if value is None:
            return default
        if value not in choices:
            raise ConfigError(self.name(key), f"one of {', '.join(choices)}, got {value!r}")
        return value

    def node(self, key: str) -> Node | None:
        value = self.get(key)
        return None if value is None else Node(value, self.name(key))

    def items(self, key: str) -> list[Node]:
        """The mappings of the list under ``key`` (``[]`` when absent)."""
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(self.name(key), f"expected a list, got {type(value).__name__}")
        return [Node(item, f"{self.name(key)}[{i}]") for i, item in enumerate(value)]

    def ignore(self, tr: Translation, why: str, *keys: str) -> None:
        """Accept ``keys`` without honouring them; a notice for each one that is set."""
        for key in keys:
            if self.has(self.mark(key)):
                tr.notice(self.name(key), why)

    def accept(self, *keys: str) -> None:
        """Accept ``keys`` silently (describe-delivery-stream's read-only status fields)."""
        for key in keys:
            self.mark(key)

    def reject(self, why: str, *keys: str) -> None:
        """Refuse ``keys`` when set (they would change what is delivered)."""
        for key in keys:
            if self.has(self.mark(key)) and self.data[key] not in ("", [], {}):
                raise ConfigError(self.name(key), why)

    def mark(self, key: str) -> str:
        self.seen.add(key)
        return key
