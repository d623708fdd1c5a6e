"""The Kinesis-style partitioner, checked against an independent computation."""

from __future__ import annotations

import bisect
import hashlib

import pytest

from ground.errors import ConfigError
from shardline.producer import TICKER_SYMBOLS, hash_key, partition_for, partition_for_hash_key

SPACE = 2**128


def _independent(key: str, n: int) -> int:
    """Hex digest → int, then find the range whose lower bound ceil(p·2^128/n) is ≤ h."""
    h = int(hashlib.new("md5", key.encode("utf-8")).hexdigest(), 16)
    lower_bounds = [-(-p * SPACE // n) for p in range(n)]
    return bisect.bisect_right(lower_bounds, h) - 1


# md5("") = d41d8cd9..., md5("a") = 0cc175b9..., md5("abc") = 90015098... (RFC 1321).
# With 4 partitions the partition is the top two bits of the hash; with 3 it is
# floor(3·h/2^128): 0xd41d/2^16 ≈ 0.829 → 2, 0x0cc1/2^16 ≈ 0.050 → 0, 0x9001/2^16 ≈ 0.563 → 1.
@pytest.mark.parametrize(
    ("key", "n", "expected"),
    [("", 4, 3), ("a", 4, 0), ("abc", 4, 2), ("", 3, 2), ("a", 3, 0), ("abc", 3, 1),
     ("abc", 1, 0), ("", 2, 1), ("a", 2, 0)],
)
def test_hand_computed_vectors(key, n, expected):
    assert partition_for(key, n) == expected


def test_hash_key_is_md5_big_endian():
    assert hash_key("abc") == 0x900150983CD24FB0D6963F7D28E17F72
    assert hash_key(b"abc") == hash_key("abc")
    assert hash_key("") == 0xD41D8CD98F00B204E9800998ECF8427E


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 16, 64, 100])
def test_matches_independent_computation(n):
    keys = [s for s, _, _ in TICKER_SYMBOLS] + [f"user-{i:04d}" for i in range(300)] + ["é☃"]
    for key in keys:
        assert partition_for(key, n) == _independent(key, n), key


def test_range_boundaries():
    assert partition_for_hash_key(0, 4) == 0
    assert partition_for_hash_key(2**127 - 1, 2) == 0
    assert partition_for_hash_key(2**127, 2) == 1
    assert partition_for_hash_key(SPACE - 1, 5) == 4
    third = -(-SPACE // 3)
    assert partition_for_hash_key(third - 1, 3) == 0
    assert partition_for_hash_key(third, 3) == 1


def test_keys_spread_evenly():
    counts = [0] * 4
    for i in range(4000):
        counts[partition_for(f"user-{i}", 4)] += 1
    assert all(900 < c < 1100 for c in counts), counts


def test_rejects_bad_arguments():
    with pytest.raises(ConfigError):
        partition_for("a", 0)
    with pytest.raises(ConfigError):
        partition_for_hash_key(SPACE, 4)
    with pytest.raises(ConfigError):
        partition_for_hash_key(-1, 4)
