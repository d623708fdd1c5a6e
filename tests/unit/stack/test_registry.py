"""The schema registry component: its command line, ports, provisioning and health probe."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from ground.errors import ToolMissingError
from ground.settings import Settings
from shardline.stack.progress import LogReporter
from shardline.stack.registry import RegistryComponent, registry_properties, unpack_tar
from shardline.stack.versions import APICURIO_VERSION


def test_properties_bind_loopback_on_the_configured_ports() -> None:
    props = registry_properties(port=29081, management_port=29082)
    assert props["quarkus.http.host"] == props["quarkus.management.host"] == "127.0.0.1"
    assert (props["quarkus.http.port"], props["quarkus.management.port"]) == ("29081", "29082")


def test_ports_endpoint_and_launch(settings: Settings, fake_jdk) -> None:
    jdk = fake_jdk(21)
    comp = RegistryComponent(settings, {"JAVA_HOME": str(jdk), "PATH": ""})
    assert {(c.port, c.setting) for c in comp.ports()} == {
        (39081, "SHARDLINE_SCHEMA_REGISTRY_PORT"),
        (39082, "SHARDLINE_SCHEMA_REGISTRY_MANAGEMENT_PORT"),
    }
    assert all(c.host == "127.0.0.1" for c in comp.ports())
    assert comp.endpoint == "http://127.0.0.1:39081/apis/ccompat/v7"
    assert APICURIO_VERSION in comp.description
    launch = comp.launch()
    assert launch.argv[0] == str(jdk / "bin" / "java")
    assert "-Dquarkus.http.port=39081" in launch.argv
    assert launch.argv[-2:] == ("-jar", str(comp.dist / "quarkus-run.jar"))


def test_preflight_needs_java_21(settings: Settings, fake_jdk, monkeypatch) -> None:
    monkeypatch.setattr("shardline.stack.preflight.JDK_FOLDERS", ())
    comp = RegistryComponent(settings, {"JAVA_HOME": str(fake_jdk(17)), "PATH": ""})
    with pytest.raises(ToolMissingError, match=r"Java 21\+ is needed to run Apicurio Registry"):
        comp.preflight()


def _archive(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_provision_unpacks_a_cached_archive_once(settings: Settings, fake_jdk) -> None:
    comp = RegistryComponent(settings, {"JAVA_HOME": str(fake_jdk(21)), "PATH": ""})
    comp.cache.mkdir(parents=True)
    _archive(comp.archive, {"quarkus-run.jar": b"jar", "lib/main/a.jar": b"a"})
    comp.preflight()  # no mvn needed: the archive is cached
    comp.provision(LogReporter())
    assert (comp.dist / "quarkus-run.jar").read_bytes() == b"jar"
    assert (comp.dist / "lib" / "main" / "a.jar").is_file()
    comp.archive.unlink()  # unpacked: the archive is no longer needed
    comp.provision(LogReporter())
    assert comp.dir.is_dir()


def test_unpack_refuses_paths_outside_the_target(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    _archive(archive, {"../outside": b"x"})
    with pytest.raises(tarfile.TarError):
        unpack_tar(archive, tmp_path / "dist")
    assert not (tmp_path / "outside").exists() and not (tmp_path / "dist").exists()


class _Types(BaseHTTPRequestHandler):
    body = b'["JSON","PROTOBUF","AVRO"]'

    def do_GET(self) -> None:  # noqa: N802
        ok = self.path == "/apis/ccompat/v7/schemas/types"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(self.body if ok else b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_registry() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Types)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_probe_asks_the_confluent_api(fake_registry: int, tmp_path: Path) -> None:
    settings = Settings.from_env({"SHARDLINE_SCHEMA_REGISTRY_PORT": str(fake_registry),
                                  "SHARDLINE_HOME": str(tmp_path)})
    health = RegistryComponent(settings, {}).probe(timeout_s=2)
    assert health.ok and "AVRO" in health.detail
    json.loads(_Types.body)


def test_probe_without_a_server(settings: Settings) -> None:
    health = RegistryComponent(settings, {}).probe(timeout_s=0.5)
    assert not health.ok and health.detail == "no answer"
