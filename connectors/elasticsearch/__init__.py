"""The Elasticsearch/OpenSearch destination (``_bulk`` with deterministic ids) and its config."""

from connectors.elasticsearch.config import ElasticsearchConfig, S3BackupConfig, S3BackupMode
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
    "BulkRequest",
    "BulkResponse",
    "DocumentIdStrategy",
    "ERROR_OUTPUT_TYPE",
    "ElasticsearchConfig",
    "ElasticsearchDestination",
    "FAILURE_FIELDS",
    "IndexRotationPeriod",
    "S3BackupConfig",
    "S3BackupMode",
    "es_failure_formatter",
    "index_for",
    "week_of",
]
