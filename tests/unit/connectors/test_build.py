"""build_core: the destination's config builds the parts; the core gets them with the config's
buffering and retries, whatever the destination."""

from __future__ import annotations

import asyncio

from connectors import DeliveryConfig, build_core
from connectors.core import BufferingHints, DestinationRegistry, RetryOptions
from ground.settings import Settings
from tests.unit.connectors.helpers import MemoryConfig, MemoryDestination, rec


def test_the_core_gets_what_the_destination_built_and_its_hints() -> None:
    config = DeliveryConfig(
        name="d", topic="t",
        destination=MemoryConfig(name="m", buffering=BufferingHints(10**6, 2, 1_000),
                                 retry=RetryOptions(duration_ms=1_000)))
    core = build_core(config, Settings.from_env({}))
    assert isinstance(core.destination, MemoryDestination)
    assert core.destination.name == "d/m"
    assert core.hints == BufferingHints(10**6, 2, 1_000)
    assert core.retry == RetryOptions(duration_ms=1_000)
    assert core.backup is None and core.source_backup is None and core.transform is None
    for o in range(3):
        core.add(rec(o))
    asyncio.run(core.flush(core.due()))
    assert core.destination.offsets == [0, 1]  # cut by the config's max_records
    assert core.committable() == {("t", 0): 2}


def test_a_registered_destination_goes_from_a_mapping_to_a_core() -> None:
    config = DeliveryConfig.from_mapping({"name": "d", "topic": "t", "memory": {"name": "m"}},
                                         destinations=DestinationRegistry(MemoryConfig))
    core = build_core(config, Settings.from_env({}))
    assert core.destination_name == "d/m" and core.name == "d"
