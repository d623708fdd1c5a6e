"""Configuration of a windowed pipeline: frozen, typed, validated at start-up.

A pipeline folder (``pipelines/<app>/``) holds ``pipeline.yaml``; :func:`load_pipeline_config`
reads it, applies overrides (command-line flags) and validates every field, raising
:class:`~ground.errors.ConfigError` that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from ground.errors import ConfigError

__all__ = ["CONFIG_FILE", "PipelineConfig", "load_pipeline_config"]

CONFIG_FILE = "pipeline.yaml"
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
INPUT_FORMATS = ("auto", "json", "avro")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    app_id: str
    input_topic: str
    output_topic: str
    error_topic: str
    window_ms: int = 60_000
    grace_ms: int = 5_000
    #: A partition that receives nothing for this long is caught up: its windows close.
    idle_timeout_ms: int = 65_000
    input_format: str = "auto"
    schema: str = "ticker"
    batch_max_records: int = 1_000
    batch_within_ms: int = 200

    def __post_init__(self) -> None:
        for name in ("app_id", "input_topic", "output_topic", "error_topic"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _TOPIC.match(value):
                raise ConfigError(
                    name, f"expected a Kafka-safe name ([A-Za-z0-9._-]), got {value!r}"
                )
        if len({self.input_topic, self.output_topic, self.error_topic}) != 3:
            raise ConfigError("output_topic", "input, output and error topics must all differ")
        _positive_int("window_ms", self.window_ms)
        _positive_int("idle_timeout_ms", self.idle_timeout_ms)
        _positive_int("batch_max_records", self.batch_max_records)
        _positive_int("batch_within_ms", self.batch_within_ms)
        if (
            not isinstance(self.grace_ms, int)
            or isinstance(self.grace_ms, bool)
            or self.grace_ms < 0
        ):
            raise ConfigError("grace_ms", f"expected an integer >= 0, got {self.grace_ms!r}")
        if self.input_format not in INPUT_FORMATS:
            raise ConfigError("input_format", f"one of {INPUT_FORMATS}, got {self.input_format!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PipelineConfig:
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(str(key), f"unknown setting; known: {', '.join(sorted(known))}")
        for name in ("app_id", "input_topic", "output_topic", "error_topic"):
            if name not in data:
                raise ConfigError(name, "required")
        try:
            return cls(**dict(data))
        except TypeError as exc:  # pragma: no cover - guarded by the checks above
            raise ConfigError("pipeline", str(exc)) from None


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(name, f"expected a positive integer, got {value!r}")


def load_pipeline_config(path: Path, overrides: Mapping[str, Any] | None = None) -> PipelineConfig:
    """Read ``<path>/pipeline.yaml`` (or ``path`` itself if it is a file) and apply overrides."""
    file = path / CONFIG_FILE if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(str(file), "pipeline config not found")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(file), f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(file), "expected a mapping at the top level")
    config = PipelineConfig.from_mapping(data)
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    if clean:
        unknown = set(clean) - {f.name for f in fields(PipelineConfig)}
        if unknown:
            raise ConfigError(sorted(unknown)[0], "unknown setting")
        config = replace(config, **clean)
    return config
