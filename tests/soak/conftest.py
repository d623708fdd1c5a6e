"""The CI soak needs the shared stack's Elasticsearch (its own Kafka and MinIO it starts)."""

from tests.integration.fixtures_stack import stack_settings

__all__ = ["stack_settings"]
