"""Apicurio Registry, the schema registry of the local stack, from Maven Central.

The ``all`` distribution of ``io.apicurio:apicurio-registry-app`` is a Quarkus application
(``quarkus-run.jar`` and its ``lib/``), unpacked once into the cache and run from there with
in-memory storage: schemas last as long as the process. Clients use its Confluent Schema
Registry API (``/apis/ccompat/v7``), the one ``SHARDLINE_SCHEMA_REGISTRY_URL`` points at.
Quarkus serves health and metrics on a second ("management") port; both bind 127.0.0.1.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from shardline.stack.component import Component, Health, http_json
from shardline.stack.maven import copy_artifact
from shardline.stack.preflight import Java, PortClaim, find_jdk, require_tool
from shardline.stack.process import Launch
from shardline.stack.progress import Reporter
from shardline.stack.versions import APICURIO_VERSION, REGISTRY_MIN_JAVA_MAJOR, apicurio_artifact

__all__ = ["RegistryComponent", "registry_properties", "unpack_tar"]

HOST = "127.0.0.1"
HEAP = "384m"
_WHY = "run Apicurio Registry (the schema registry)"


def registry_properties(*, port: int, management_port: int) -> dict[str, str]:
    """The Quarkus/Apicurio settings, passed as ``-D`` system properties."""
    return {
        "quarkus.http.host": HOST,
        "quarkus.http.port": str(port),
        "quarkus.management.host": HOST,
        "quarkus.management.port": str(management_port),
        "quarkus.http.access-log.enabled": "false",
        "quarkus.log.console.color": "false",
        # Subjects may be deleted (tests clean up after themselves).
        "apicurio.rest.deletion.artifact.enabled": "true",
        "apicurio.rest.deletion.artifact-version.enabled": "true",
    }


def unpack_tar(archive: Path, target: Path) -> None:
    """Extract ``archive`` (a .tar.gz) into ``target`` whole, or not at all."""
    partial = target.parent / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(partial, filter="data")
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)


class RegistryComponent(Component):
    name = "registry"
    # ~20 s on an idle 2-core machine; longer when the machine is busy.
    health_timeout_s = 240.0

    _java: Java | None = None

    @property
    def description(self) -> str:
        return f"Apicurio Registry {APICURIO_VERSION}"

    @property
    def endpoint(self) -> str:
        return self.settings.local_schema_registry_url

    @property
    def archive(self) -> Path:
        return self.cache / f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"

    @property
    def dist(self) -> Path:
        return self.cache / f"apicurio-registry-{APICURIO_VERSION}"

    def ports(self) -> list[PortClaim]:
        return [
            PortClaim(
                self.name,
                HOST,
                self.settings.schema_registry_port,
                "SHARDLINE_SCHEMA_REGISTRY_PORT",
            ),
            PortClaim(
                self.name,
                HOST,
                self.settings.schema_registry_management_port,
                "SHARDLINE_SCHEMA_REGISTRY_MANAGEMENT_PORT",
            ),
        ]

    def preflight(self) -> None:
        self._java = find_jdk(self.env, REGISTRY_MIN_JAVA_MAJOR, _WHY)
        if not (self.dist / "quarkus-run.jar").is_file() and not self.archive.is_file():
            require_tool("mvn", self.env, "download Apicurio Registry from Maven Central")

    def provision(self, reporter: Reporter) -> None:
        if not (self.dist / "quarkus-run.jar").is_file():
            if not self.archive.is_file():
                with reporter.step(self.name, f"downloading Apicurio Registry {APICURIO_VERSION}"):
                    mvn = require_tool("mvn", self.env, "download Apicurio Registry")
                    self.cache.mkdir(parents=True, exist_ok=True)
                    copy_artifact(mvn, apicurio_artifact(), self.archive, self.env)
            with reporter.step(self.name, f"unpacking {self.archive.name}"):
                unpack_tar(self.archive, self.dist)
        self.dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        java = self._java or find_jdk(self.env, REGISTRY_MIN_JAVA_MAJOR, _WHY)
        props = registry_properties(
            port=self.settings.schema_registry_port,
            management_port=self.settings.schema_registry_management_port,
        )
        return Launch(
            argv=(
                str(java.binary),
                "-Xms64m",
                f"-Xmx{HEAP}",
                f"-Djava.io.tmpdir={self.dir}",
                *(f"-D{key}={value}" for key, value in props.items()),
                "-jar",
                str(self.dist / "quarkus-run.jar"),
            ),
            env={},
            cwd=self.dir,
        )

    def probe(self, timeout_s: float = 2.0) -> Health:
        types = http_json(f"{self.endpoint}/schemas/types", timeout_s)
        if not isinstance(types, list):
            return Health(False, "no answer")
        return Health("AVRO" in types, f"schema types {', '.join(map(str, types))}")
