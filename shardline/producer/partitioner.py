"""Partition key → partition, the way Kinesis Data Streams maps a key to a shard.

Kinesis hashes the partition key with MD5 into a 128-bit unsigned integer (the *hash key*)
and each shard owns a contiguous range of hash keys. Shardline gives the ``n`` partitions of
a topic equal contiguous ranges of the same 128-bit space::

    hash_key  = int.from_bytes(md5(key.encode("utf-8")).digest(), "big")   # 0 ≤ h < 2**128
    partition = (hash_key * n) >> 128                                    # 0 ≤ p < n

so partition ``p`` owns hash keys ``[ceil(p·2**128/n), ceil((p+1)·2**128/n))``. The same
key always lands in the same partition for a given partition count, keys spread evenly,
and the mapping is independent of Kafka's own (murmur2) partitioner, so any client can
recompute it. An explicit hash key (Kinesis ``ExplicitHashKey``) can be passed instead.
"""

from __future__ import annotations

import hashlib

from ground.errors import ConfigError

__all__ = ["HASH_KEY_BITS", "hash_key", "partition_for", "partition_for_hash_key"]

HASH_KEY_BITS = 128
_HASH_KEY_LIMIT = 1 << HASH_KEY_BITS


def hash_key(partition_key: str | bytes) -> int:
    """The 128-bit Kinesis hash key of ``partition_key`` (MD5 of its UTF-8 bytes, big-endian)."""
    data = partition_key.encode("utf-8") if isinstance(partition_key, str) else partition_key
    return int.from_bytes(hashlib.md5(data, usedforsecurity=False).digest(), "big")


def partition_for_hash_key(hash_key_value: int, num_partitions: int) -> int:
    """The partition owning ``hash_key_value`` when ``num_partitions`` split the space evenly."""
    if num_partitions < 1:
        raise ConfigError("partitions", f"must be at least 1, got {num_partitions}")
    if not 0 <= hash_key_value < _HASH_KEY_LIMIT:
        raise ConfigError("hash_key", f"must be in [0, 2**128), got {hash_key_value}")
    return (hash_key_value * num_partitions) >> HASH_KEY_BITS


def partition_for(partition_key: str | bytes, num_partitions: int) -> int:
    """The partition of ``partition_key``: ``md5(key) * num_partitions >> 128``."""
    return partition_for_hash_key(hash_key(partition_key), num_partitions)
