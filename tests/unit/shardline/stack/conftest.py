from __future__ import annotations

from pathlib import Path

import pytest

from ground.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a private home and cache, on ports nobody is expected to use."""
    return Settings.from_env(
        {
            "SHARDLINE_KAFKA_BOOTSTRAP": "127.0.0.1:39192",
            "SHARDLINE_KAFKA_CONTROLLER_PORT": "39193",
            "SHARDLINE_S3_ENDPOINT": "http://127.0.0.1:39100",
            "SHARDLINE_S3_CONSOLE_PORT": "39101",
            "SHARDLINE_S3_SECRET_KEY": "very-secret-value",
            "SHARDLINE_SEARCH_URL": "http://127.0.0.1:39200",
            "SHARDLINE_SEARCH_TRANSPORT_PORT": "39300",
            "SHARDLINE_SCHEMA_REGISTRY_PORT": "39081",
            "SHARDLINE_HOME": str(tmp_path / "home"),
            "SHARDLINE_CACHE": str(tmp_path / "cache"),
        }
    )


@pytest.fixture
def fake_jdk(tmp_path: Path):
    """Factory: a folder that looks like a JDK of the given major version."""

    def make(major: int) -> Path:
        home = tmp_path / f"jdk{major}"
        (home / "bin").mkdir(parents=True)
        java = home / "bin" / "java"
        java.write_text("#!/bin/sh\nexit 0\n")
        java.chmod(0o755)
        (home / "release").write_text(f'JAVA_VERSION="{major}.0.2"\n')
        return home

    return make
