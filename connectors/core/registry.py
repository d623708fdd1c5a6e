"""Destinations by the section that configures them, each owning its config and its build.

A delivery names exactly one destination by its section (``s3:``, ``elasticsearch:``). Each
destination's config is a :class:`DestinationConfig`: it reads its section, builds the
:class:`DeliveryParts` the core delivers to (Vector's per-sink ``config`` + ``build()``), and
checks at start-up that what it writes to is reachable. A :class:`DestinationRegistry`
finds the one a delivery names; it knows no destination itself — :mod:`connectors.destinations`
lists the ones Shardline ships.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Self

from connectors.core.buffer import BufferingHints
from connectors.core.destination import Destination
from connectors.core.failures import FailureFormatter, format_failure
from connectors.core.retry import RetryOptions
from connectors.core.section import Section
from connectors.core.transform import Transform
from ground.errors import ConfigError
from ground.settings import Settings

__all__ = ["DeliveryParts", "DestinationConfig", "DestinationRegistry"]


@dataclass(frozen=True, slots=True)
class DeliveryParts:
    """What a destination's config builds: where the core delivers, and with what."""

    destination: Destination
    backup: Destination | None = None  # records refused for good, as failure documents
    source_backup: Destination | None = None  # every record, as consumed
    format_failure: FailureFormatter = format_failure
    transform: Transform | None = None


class DestinationConfig(ABC):
    """One destination's config: frozen, read from its section of a delivery."""

    __slots__ = ()

    #: The delivery's key holding this destination's section.
    section_name: ClassVar[str]
    buffering: BufferingHints
    retry: RetryOptions

    @classmethod
    @abstractmethod
    def from_section(cls, s: Section) -> Self:
        """The config in ``s``; a ConfigError names the field at fault."""

    @abstractmethod
    def build(self, stream: str, settings: Settings) -> DeliveryParts:
        """The destination (and its backups and transform) of the delivery ``stream``,
        reaching out with the environment's ``settings``."""

    @abstractmethod
    async def check(self, settings: Settings) -> None:
        """Fail fast with a clear error (a DeliveryError) when a place this destination
        writes to is unreachable; creates the buckets marked ``ensure_bucket``."""


class DestinationRegistry:
    """The destinations a delivery may name, in the order they are listed in errors."""

    def __init__(self, *kinds: type[DestinationConfig]) -> None:
        self._kinds: dict[str, type[DestinationConfig]] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: type[DestinationConfig]) -> type[DestinationConfig]:
        if kind.section_name in self._kinds:
            raise ValueError(f"a destination named {kind.section_name!r} is registered already")
        self._kinds[kind.section_name] = kind
        return kind

    def __iter__(self) -> Iterator[type[DestinationConfig]]:
        return iter(self._kinds.values())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def read(self, delivery: Section) -> DestinationConfig:
        """The one destination ``delivery`` configures; a ConfigError unless exactly one."""
        if not self._kinds:
            raise ConfigError(delivery.path or "<root>", "no destination is registered")
        present = [name for name in self._kinds if delivery.has(name)]
        if len(present) != 1:
            raise ConfigError(delivery.name(self.names[0]),
                              f"set exactly one destination: {' or '.join(self.names)}")
        name = present[0]
        return self._kinds[name].from_section(delivery.section(name))
