"""The comparison needs the shared stack (the harness runs every system on its Kafka)."""

from tests.integration.fixtures_stack import stack_settings

__all__ = ["stack_settings"]
