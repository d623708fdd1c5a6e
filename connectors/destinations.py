"""The destinations Shardline ships, by the section that configures them.

Each lives in its own package with its config (a
:class:`~connectors.core.registry.DestinationConfig`: the section, its ``build()`` and its
start-up check). Adding one is writing that package and listing its config here.
"""

from __future__ import annotations

from connectors.core.registry import DestinationRegistry
from connectors.elasticsearch.config import ElasticsearchConfig
from connectors.s3.config import S3Config

__all__ = ["DESTINATIONS"]

#: In the order errors list them ("set exactly one destination: s3 or elasticsearch").
DESTINATIONS = DestinationRegistry(S3Config, ElasticsearchConfig)
