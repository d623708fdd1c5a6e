"""Integration tests run against the real local stack (Kafka, MinIO, Elasticsearch).

The stack is brought up once per test session (``stack_settings``) and stopped at the end
only if this session started it. Factories make uniquely named topics, buckets and indices.
"""

pytest_plugins = [
    "tests.integration.fixtures_stack",
    "tests.integration.fixtures_kafka",
    "tests.integration.fixtures_sinks",
]
