"""Delivery configuration: frozen, typed, validated at start-up.

One delivery = one topic → one destination, with its own consumer group. S3 and
Elasticsearch fed from the same topic are two deliveries (two groups, independent offsets),
which a file may list together (:mod:`connectors.load`). Connection settings (endpoints,
credentials) come from :class:`ground.settings.Settings`, never from this file.

The destination's section (``s3:``, ``elasticsearch:``) is read by that destination's own
config (:mod:`connectors.destinations`); this module reads what every delivery has. Every
error names the exact field, e.g. ``s3.buffering.size_mb: must be between 1 and 128``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.core.buffer import MIB
from connectors.core.registry import DestinationConfig, DestinationRegistry
from connectors.core.section import Section
from connectors.destinations import DESTINATIONS
from ground.errors import ConfigError

__all__ = ["GROUP_PREFIX", "DeliveryConfig"]

# Memory held per delivery (buffered + being sent + librdkafka's pre-fetch): a few deliveries
# fit in a few hundred MB. At least the destination's SizeInMBs (one full buffer must fit).
MAX_BUFFERED_MB = (1, 65_536, 128)  # 128: a process with 128 MB buffers peaks near 410 MB
SHUTDOWN_TIMEOUT_S = (0, 3600, 30)  # SIGTERM: how long to flush before abandoning
GROUP_PREFIX = "shardline-deliver-"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TOPIC = re.compile(r"^[A-Za-z0-9_.-]{1,249}$")


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """One delivery stream: ``topic`` → exactly one destination (``s3`` / ``elasticsearch``).

    ``max_buffered_mb``: memory the delivery may hold — buffered, cut and being sent, and
    librdkafka's pre-fetch — before it pauses its partitions and cuts its largest buffers
    early. ``shutdown_timeout_ms`` (``shutdown_timeout_seconds``): on SIGTERM, how long to
    flush what is buffered; what is not delivered by then is abandoned uncommitted.
    """

    name: str
    topic: str
    destination: DestinationConfig
    group: str = ""
    auto_offset_reset: str = "earliest"
    max_buffered_mb: int = MAX_BUFFERED_MB[2]
    shutdown_timeout_ms: int = SHUTDOWN_TIMEOUT_S[2] * 1000

    @property
    def max_buffered_bytes(self) -> int:
        return self.max_buffered_mb * MIB

    @property
    def group_id(self) -> str:
        return self.group or GROUP_PREFIX + self.name

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        path: str = "",
        *,
        destinations: DestinationRegistry = DESTINATIONS,
    ) -> DeliveryConfig:
        """One delivery in Shardline's layout (``path``: where it is in its document)."""
        s = Section(data, path)
        name = s.string("name")
        if not _NAME.match(name):
            raise ConfigError(s.name("name"), f"1-64 of [A-Za-z0-9_.-], got {name!r}")
        topic = s.string("topic")
        if not _TOPIC.match(topic):
            raise ConfigError(s.name("topic"), f"not a valid topic name: {topic!r}")
        reset = s.string("auto_offset_reset", "earliest")
        if reset not in ("earliest", "latest"):
            raise ConfigError(s.name("auto_offset_reset"), f"earliest or latest, got {reset!r}")
        destination = destinations.read(s)
        max_buffered_mb = s.integer("max_buffered_mb", *MAX_BUFFERED_MB)
        size_mb = -(-destination.buffering.size_bytes // MIB)
        if max_buffered_mb < size_mb:
            raise ConfigError(
                s.name("max_buffered_mb"),
                f"must be at least the buffering size ({size_mb} MB), got {max_buffered_mb}",
            )
        shutdown_ms = s.duration_ms(("shutdown_timeout_seconds",), "shutdown_timeout_ms",
                                    SHUTDOWN_TIMEOUT_S)
        config = cls(name=name, topic=topic, destination=destination,
                     group=s.string("group", ""), auto_offset_reset=reset,
                     max_buffered_mb=max_buffered_mb, shutdown_timeout_ms=shutdown_ms)
        s.done()
        return config
