"""The KPL-like producer: seeded ticker / click-stream data, partitioned like Kinesis.

Partitioning: ``partition = md5(partition_key) as 128-bit int * num_partitions >> 128`` —
partitions own equal contiguous hash-key ranges, as shards of a Kinesis stream do.
"""

from shardline.producer.generators import (
    CLICK_ACTIONS,
    DEFAULT_MEAN_STEP_MS,
    KINDS,
    MALFORMED_HORIZON,
    MALFORMED_KINDS,
    TICKER_SYMBOLS,
    DataSpec,
    Record,
    clickstream_records,
    generate,
    malformed_positions,
    ticker_records,
)
from shardline.producer.partitioner import hash_key, partition_for, partition_for_hash_key
from shardline.producer.producer import (
    COMPRESSIONS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_LINGER_MS,
    PartitionStats,
    ProduceConfig,
    ProduceReport,
    produce,
    record_codec,
)
from shardline.producer.ratelimit import TokenBucket

__all__ = [
    "CLICK_ACTIONS",
    "COMPRESSIONS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LINGER_MS",
    "DEFAULT_MEAN_STEP_MS",
    "DataSpec",
    "KINDS",
    "MALFORMED_HORIZON",
    "MALFORMED_KINDS",
    "PartitionStats",
    "ProduceConfig",
    "ProduceReport",
    "Record",
    "TICKER_SYMBOLS",
    "TokenBucket",
    "clickstream_records",
    "generate",
    "hash_key",
    "malformed_positions",
    "partition_for",
    "partition_for_hash_key",
    "produce",
    "record_codec",
    "ticker_records",
]
