"""The failure document Firehose writes to S3 for a document Elasticsearch refused."""

from __future__ import annotations

import base64

from connectors.core.failures import FailureFormatter
from connectors.core.records import Rejected
from connectors.elasticsearch.destination import ElasticsearchDestination

__all__ = ["ERROR_OUTPUT_TYPE", "es_failure_formatter"]

ERROR_OUTPUT_TYPE = "AmazonOpenSearchService-failed"


def es_failure_formatter(destination: ElasticsearchDestination) -> FailureFormatter:
    """A :data:`~connectors.core.FailureFormatter` with Firehose's field names."""

    def format_failure(rejected: Rejected, attempts: int, now_ms: int) -> dict[str, object]:
        record = rejected.record
        return {
            "attemptsMade": attempts,
            "arrivalTimestamp": record.timestamp_ms,
            "errorCode": rejected.error_code,
            "errorMessage": rejected.error_message,
            "attemptEndingTimestamp": now_ms,
            "esDocumentId": destination.document_id(record) or "",
            "esIndexName": destination.index_name(record),
            "esTypeName": "",
            "rawData": base64.b64encode(record.value or b"").decode("ascii"),
            "kafkaTopic": record.topic,
            "kafkaPartition": record.partition,
            "kafkaOffset": record.offset,
        }

    return format_failure
