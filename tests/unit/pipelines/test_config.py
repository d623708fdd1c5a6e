from pathlib import Path

import pytest

from ground.errors import ConfigError
from pipelines.config import PipelineConfig, load_pipeline_config

REPO = Path(__file__).resolve().parents[3]
BASE = {"app_id": "a", "input_topic": "in", "output_topic": "out", "error_topic": "err"}


def test_bundled_ticker_stats_config_loads() -> None:
    cfg = load_pipeline_config(REPO / "pipelines" / "ticker_stats")
    assert cfg.window_ms == 60_000
    assert cfg.input_topic == "ticker"


def test_overrides_apply_and_none_is_ignored() -> None:
    cfg = load_pipeline_config(
        REPO / "pipelines" / "ticker_stats",
        {"input_topic": "x", "grace_ms": None, "idle_timeout_ms": 10},
    )
    assert (cfg.input_topic, cfg.grace_ms, cfg.idle_timeout_ms) == ("x", 5_000, 10)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"window_ms": 0}, "window_ms"),
        ({"window_ms": "60s"}, "window_ms"),
        ({"grace_ms": -1}, "grace_ms"),
        ({"input_topic": "bad topic"}, "input_topic"),
        ({"output_topic": "in"}, "output_topic"),
        ({"input_format": "xml"}, "input_format"),
        ({"windw_ms": 5}, "windw_ms"),
    ],
)
def test_bad_config_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        PipelineConfig.from_mapping({**BASE, **change})
    assert info.value.field == field
    assert field in str(info.value)


def test_missing_required_field() -> None:
    data = dict(BASE)
    del data["error_topic"]
    with pytest.raises(ConfigError, match="error_topic"):
        PipelineConfig.from_mapping(data)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_pipeline_config(tmp_path)
    (tmp_path / "pipeline.yaml").write_text("app_id: [unclosed")
    with pytest.raises(ConfigError, match="YAML"):
        load_pipeline_config(tmp_path)
