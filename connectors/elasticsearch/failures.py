"""The failure document Firehose writes to S3 for a document Elasticsearch refused."""

from __future__ import annotations

from connectors.core.failures import FailureFormatter, format_failure
from connectors.core.records import Rejected
from connectors.elasticsearch.destination import ElasticsearchDestination

__all__ = ["ERROR_OUTPUT_TYPE", "es_failure_formatter"]

ERROR_OUTPUT_TYPE = "AmazonOpenSearchService-failed"


def es_failure_formatter(destination: ElasticsearchDestination) -> FailureFormatter:
    """A :data:`~connectors.core.FailureFormatter` with Firehose's field names."""

    def format_es_failure(rejected: Rejected, attempts: int, now_ms: int) -> dict[str, object]:
        record = rejected.record
        return {
            **format_failure(rejected, attempts, now_ms),
            "esDocumentId": destination.document_id(record) or "",
            "esIndexName": destination.index_name(record),
            "esTypeName": "",
        }

    return format_es_failure
