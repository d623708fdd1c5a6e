import pytest

from ground.errors import ConfigError
from pipelines.runtime import RuntimeConfig, changelog_topic


def test_defaults_are_valid_and_changelogs_are_named_per_source() -> None:
    cfg = RuntimeConfig("app", ("a", "b"))
    assert cfg.starting_position == "TRIM_HORIZON"
    assert cfg.changelog_topics() == {"a": "app-a-changelog", "b": "app-b-changelog"}
    assert changelog_topic("x.y", "in") == "x.y-in-changelog"


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("application_id", {"application_id": ""}),
        ("application_id", {"application_id": "has space"}),
        ("source_topics", {"source_topics": ()}),
        ("source_topics", {"source_topics": "single-string"}),
        ("source_topics", {"source_topics": ("a", "a")}),
        ("source_topics", {"source_topics": ("bad/name",)}),
        ("output_topics", {"output_topics": ("in",)}),
        ("application_id", {"application_id": "a" * 200, "source_topics": ("t" * 60,)}),
        ("output_topics", {"output_topics": ("o", "o")}),
        ("starting_position", {"starting_position": "LATEST"}),
        ("assignment_strategy", {"assignment_strategy": "sticky"}),
        ("commit_interval_ms", {"commit_interval_ms": 0}),
        ("commit_interval_ms", {"commit_interval_ms": 20_000}),  # > a quarter of the txn timeout
        ("commit_max_records", {"commit_max_records": -1}),
        ("batch_max_records", {"batch_max_records": 0}),
        ("batch_max_records", {"batch_max_records": True}),
        ("idle_check_interval_ms", {"idle_check_interval_ms": 0}),
        ("idle_timeout_ms", {"idle_timeout_ms": 1.5}),
        ("operation_timeout_ms", {"operation_timeout_ms": 0}),
        ("transaction_timeout_ms", {"transaction_timeout_ms": 999}),
        ("transaction_timeout_ms", {"transaction_timeout_ms": 900_001}),
        ("session_timeout_ms", {"session_timeout_ms": 500}),
        ("instance_id", {"instance_id": "a b"}),
        ("output_partitions", {"output_partitions": 0}),
        ("repartition_topics", {"repartition_topics": (("other-P-repartition", 4),)}),
        ("repartition_topics", {"repartition_topics": (("app-P", 4),)}),
        ("repartition_topics", {"repartition_topics": (("app-P-repartition", 0),)}),
        ("repartition_topics", {"repartition_topics": (("app-P-repartition", 2),) * 2}),
        ("repartition_topics", {"repartition_topics": (("app-" + "p" * 240 + "-repartition", 2),)}),
    ],
)
def test_invalid_settings_name_the_field(field: str, overrides: dict) -> None:
    kwargs = {"application_id": "app", "source_topics": ("in",), **overrides}
    with pytest.raises(ConfigError) as info:
        RuntimeConfig(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_repartition_topics_are_consumed_and_have_changelogs_named_after_them() -> None:
    cfg = RuntimeConfig("app", ("in",), repartition_topics=(("app-P-repartition", 6),))
    assert cfg.consumed_topics == ("in", "app-P-repartition")
    assert cfg.internal_topics == ("app-P-repartition",)
    assert cfg.changelog_topics() == {
        "in": "app-in-changelog", "app-P-repartition": "app-P-repartition-changelog"
    }


def test_config_is_frozen() -> None:
    cfg = RuntimeConfig("app", ("in",))
    with pytest.raises(AttributeError):
        cfg.application_id = "other"  # type: ignore[misc]
