"""Integration tests run against the real local stack (Kafka, MinIO, Elasticsearch), and
the search tests against OpenSearch 2 as well (``search_settings``).

The stack is brought up once per test session (``stack_settings``) and stopped at the end
only if this session started it. Factories make uniquely named topics, buckets and indices.
"""

from tests.integration.fixtures_kafka import module_topic_factory, topic_factory
from tests.integration.fixtures_private import private_kafka, private_minio
from tests.integration.fixtures_search import (
    pytest_collection_finish,
    pytest_sessionfinish,
    search_settings,
)
from tests.integration.fixtures_secure_kafka import secure_kafka
from tests.integration.fixtures_secure_search import secure_search
from tests.integration.fixtures_sinks import bucket_factory, index_factory
from tests.integration.fixtures_stack import stack_settings
from tests.integration.workers import workers

__all__ = [
    "bucket_factory",
    "index_factory",
    "module_topic_factory",
    "private_kafka",
    "private_minio",
    "pytest_collection_finish",
    "pytest_sessionfinish",
    "search_settings",
    "secure_kafka",
    "secure_search",
    "stack_settings",
    "topic_factory",
    "workers",
]
