"""The schema registry component: its command line, ports, provisioning and health probe."""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from ground.errors import ToolMissingError
from ground.settings import Settings
from shardline.stack.progress import LogReporter
from shardline.stack.registry import RegistryComponent, registry_properties
from shardline.stack.versions import APICURIO_VERSION


def test_properties_bind_loopback_on_the_configured_port() -> None:
    props = registry_properties(port=29081)
    assert props["quarkus.http.host"] == "127.0.0.1" and props["quarkus.http.port"] == "29081"


def test_ports_endpoint_and_launch(settings: Settings, fake_jdk) -> None:
    jdk = fake_jdk(17)
    comp = RegistryComponent(settings, {"JAVA_HOME": str(jdk), "PATH": ""})
    assert [(c.host, c.port, c.setting) for c in comp.ports()] == [
        ("127.0.0.1", 39081, "SHARDLINE_SCHEMA_REGISTRY_PORT")]
    assert comp.endpoint == "http://127.0.0.1:39081/apis/ccompat/v7"
    assert APICURIO_VERSION in comp.description
    launch = comp.launch()
    assert launch.argv[0] == str(jdk / "bin" / "java")
    assert "-Dquarkus.http.port=39081" in launch.argv and "-Dquarkus.http.host=127.0.0.1" in (
        launch.argv)
    assert launch.argv[-2:] == ("-jar", str(comp.runner))


def test_preflight_needs_maven_only_without_a_cached_download(settings: Settings, fake_jdk):
    comp = RegistryComponent(settings, {"JAVA_HOME": str(fake_jdk(17)), "PATH": ""})
    with pytest.raises(ToolMissingError, match="`mvn` not found.*Apicurio Registry"):
        comp.preflight()
    with pytest.raises(ToolMissingError, match="Java 11 .* too old"):
        RegistryComponent(settings, {"JAVA_HOME": str(fake_jdk(11)), "PATH": ""}).preflight()


def test_provision_unpacks_a_cached_archive_once(settings: Settings, fake_jdk) -> None:
    comp = RegistryComponent(settings, {"JAVA_HOME": str(fake_jdk(17)), "PATH": ""})
    comp.cache.mkdir(parents=True)
    with zipfile.ZipFile(comp.archive, "w") as zf:
        zf.writestr(comp.runner.name, b"jar")
        zf.writestr("lib/a.jar", b"a")
    comp.preflight()  # no mvn needed: the archive is cached
    comp.provision(LogReporter())
    assert comp.runner.read_bytes() == b"jar"
    assert (comp.dist / "lib" / "a.jar").is_file()
    comp.archive.unlink()  # unpacked: the archive is no longer needed
    comp.preflight()
    comp.provision(LogReporter())
    assert comp.dir.is_dir() and not list(comp.cache.glob(".*partial"))


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
