"""The Elasticsearch/OpenSearch destination (``_bulk`` with deterministic ids)."""

from connectors.elasticsearch.destination import (
    BulkRequest,
    BulkResponse,
    DocumentIdStrategy,
    ElasticsearchDestination,
)
from connectors.elasticsearch.failures import (
    ERROR_OUTPUT_TYPE,
    FAILURE_FIELDS,
    es_failure_formatter,
)
from connectors.elasticsearch.rotation import IndexRotationPeriod, index_for, week_of

__all__ = [
    "ERROR_OUTPUT_TYPE",
    "FAILURE_FIELDS",
    "BulkRequest",
    "BulkResponse",
    "DocumentIdStrategy",
    "ElasticsearchDestination",
    "IndexRotationPeriod",
    "es_failure_formatter",
    "index_for",
    "week_of",
]
