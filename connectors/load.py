"""Delivery files: one delivery or a ``deliveries:`` list, each in Shardline's layout or in
Firehose's, from YAML, TOML or JSON."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.config import DeliveryConfig
from connectors.firehose_layout import delivery_from_firehose, is_firehose_layout
from ground.config_reader import load_document
from ground.errors import ConfigError

__all__ = ["delivery_from_document", "load_deliveries"]


def delivery_from_document(data: Any, path: str = "") -> DeliveryConfig:
    """One delivery in either layout: Shardline's, or Firehose's (translated)."""
    if is_firehose_layout(data):
        return delivery_from_firehose(data, path)
    return DeliveryConfig.from_mapping(data, path)


def load_deliveries(source: Path | str | Mapping[str, Any]) -> list[DeliveryConfig]:
    """Deliveries from a YAML, TOML or JSON file (or an already-parsed mapping).

    The document is either one delivery, or ``deliveries:`` with a list of them; each delivery
    is in Shardline's layout or in Firehose's (``DeliveryStreamName`` at the top, or
    describe-delivery-stream's ``DeliveryStreamDescription``).
    """
    data: Any = source if isinstance(source, Mapping) else load_document(Path(source))
    if isinstance(data, Mapping) and "deliveries" in data:
        if set(data) != {"deliveries"}:
            extra = sorted(set(data) - {"deliveries"})[0]
            raise ConfigError(extra, "unknown setting next to 'deliveries'")
        items = data["deliveries"]
        if not isinstance(items, list) or not items:
            raise ConfigError("deliveries", "expected a non-empty list")
        configs = [delivery_from_document(item, f"deliveries[{i}]")
                   for i, item in enumerate(items)]
        names = [c.name for c in configs]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise ConfigError(f"deliveries[{i}].name", f"duplicate delivery name {n!r}")
        return configs
    return [delivery_from_document(data)]
