"""The destinations Shardline ships, by the section that configures them."""

from __future__ import annotations

from connectors import DESTINATIONS, ElasticsearchConfig, S3Config


def test_the_shipped_destinations_in_the_order_errors_name_them() -> None:
    assert DESTINATIONS.names == ("s3", "elasticsearch")
    assert list(DESTINATIONS) == [S3Config, ElasticsearchConfig]
