from __future__ import annotations

from ground.settings import Settings
from shardline.stack.minio import MinioComponent


def test_launch_binds_configured_ports_and_passes_credentials_by_env(settings: Settings) -> None:
    comp = MinioComponent(settings, {})
    launch = comp.launch()
    argv = list(launch.argv)
    assert argv[:3] == [str(comp.binary), "server", str(comp.data)]
    assert argv[argv.index("--address") + 1] == "127.0.0.1:39100"
    assert argv[argv.index("--console-address") + 1] == "127.0.0.1:39101"
    assert "--quiet" in argv  # the start-up banner would print the root credentials
    assert launch.env["MINIO_ROOT_USER"] == "shardline"
    assert launch.env["MINIO_ROOT_PASSWORD"] == "very-secret-value"
    assert "very-secret-value" not in " ".join(argv)
    assert "very-secret-value" not in repr(launch)


def test_binary_cached_per_version(settings: Settings) -> None:
    comp = MinioComponent(settings, {})
    assert comp.binary.parent.name.startswith("minio-v0.0.0-")
    assert comp.binary.is_relative_to(settings.cache.resolve())
