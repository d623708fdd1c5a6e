"""The registry finds the one destination a delivery names, knowing none by itself."""

from __future__ import annotations

import pytest

from connectors import DeliveryConfig, ElasticsearchConfig, S3Config
from connectors.core import (
    DestinationRegistry,
)
from ground.errors import ConfigError
from tests.unit.connectors.helpers import MemoryConfig


def test_a_delivery_reads_a_destination_registered_elsewhere() -> None:
    registry = DestinationRegistry(MemoryConfig)
    config = DeliveryConfig.from_mapping({"name": "d", "topic": "t", "memory": {"name": "m"}},
                                         destinations=registry)
    assert config.destination == MemoryConfig(name="m")
    with pytest.raises(ConfigError) as info:
        DeliveryConfig.from_mapping({"name": "d", "topic": "t", "memory": {"name": "m", "nme": 1}},
                                    destinations=registry)
    assert info.value.field == "memory.nme"
    with pytest.raises(ConfigError) as info:  # s3 is not in this registry: an unknown key
        DeliveryConfig.from_mapping({"name": "d", "topic": "t", "memory": {"name": "m"},
                                     "s3": {"bucket": "b"}}, destinations=registry)
    assert info.value.field == "s3" and info.value.message == "unknown setting"


@pytest.mark.parametrize("data", [
    {"name": "d", "topic": "t"},
    {"name": "d", "topic": "t", "s3": {"bucket": "bkt"}, "elasticsearch": {"index": "i"}},
])
def test_exactly_one_destination(data: dict) -> None:
    registry = DestinationRegistry(S3Config, ElasticsearchConfig, MemoryConfig)
    with pytest.raises(ConfigError) as info:
        DeliveryConfig.from_mapping(data, destinations=registry)
    assert str(info.value) == "s3: set exactly one destination: s3 or elasticsearch or memory"


def test_a_name_is_registered_once_and_an_empty_registry_says_so() -> None:
    registry = DestinationRegistry(MemoryConfig)
    with pytest.raises(ValueError, match="'memory' is registered already"):
        registry.register(MemoryConfig)
    with pytest.raises(ConfigError, match="no destination is registered"):
        DeliveryConfig.from_mapping({"name": "d", "topic": "t"},
                                    destinations=DestinationRegistry())
