"""The Elasticsearch/OpenSearch destination (``_bulk`` with deterministic ids)."""

from connectors.elasticsearch.destination import (
    BulkRequest,
    BulkResponse,
    DocumentIdStrategy,
    ElasticsearchDestination,
)
from connectors.elasticsearch.failures import ERROR_OUTPUT_TYPE, es_failure_formatter

__all__ = [
    "ERROR_OUTPUT_TYPE",
    "BulkRequest",
    "BulkResponse",
    "DocumentIdStrategy",
    "ElasticsearchDestination",
    "es_failure_formatter",
]
