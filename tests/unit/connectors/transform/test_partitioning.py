import pytest

from connectors.transform import ActivePartitions, MetadataExtractionError, MetadataExtractor
from ground.errors import ConfigError


def test_query_extracts_keys_in_order() -> None:
    e = MetadataExtractor('{customer: .customer_id, year: (.ts | strftime("%Y")), n: .n}')
    keys = e.extract(b'{"customer_id": "c1", "ts": 1700000000, "n": 7}')
    assert keys == (("customer", "c1"), ("year", "2023"), ("n", "7"))


def test_bad_query_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        MetadataExtractor("{a: .b", field="s3.processing.metadata_extraction.query")
    assert err.value.field == "s3.processing.metadata_extraction.query"


@pytest.mark.parametrize("value", [
    b"not json", None, b'"a string"', b'{"customer_id": {"x": 1}}', b'{"customer_id": null}',
    b"[1, 2]",
])
def test_extraction_failures(value: bytes | None) -> None:
    with pytest.raises(MetadataExtractionError):
        MetadataExtractor("{customer: .customer_id}").extract(value)


def test_non_object_result_and_too_many_keys_fail() -> None:
    with pytest.raises(MetadataExtractionError):
        MetadataExtractor(".a").extract(b'{"a": "x"}')
    with pytest.raises(MetadataExtractionError):
        MetadataExtractor(".[]").extract(b'[{"a": "1"}, {"a": "2"}]')
    many = "{" + ", ".join(f"k{i}: .a" for i in range(51)) + "}"
    with pytest.raises(MetadataExtractionError):
        MetadataExtractor(many).extract(b'{"a": "x"}')


def test_active_partition_limit_counts_held_tuples() -> None:
    p = ActivePartitions(2)
    a, b, c = (("k", "a"),), (("k", "b"),), (("k", "c"),)
    assert p.admit(a) and p.admit(a) and p.admit(b)
    assert not p.admit(c)  # a third partition
    assert p.admit(b)  # an active one is always admitted
    assert len(p) == 2 and p.exceeded == 1
    p.release([a])
    assert not p.admit(c)  # a is still held by one record
    p.release([a])
    assert len(p) == 1
    assert p.admit(c) and len(p) == 2
