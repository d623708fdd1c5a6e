"""Apicurio Registry, the schema registry of the local stack, from Maven Central.

The ``all`` zip of ``io.apicurio:apicurio-registry-app`` is a Quarkus application (a runner
jar and its ``lib/``), unpacked once into the cache and run from there with in-memory
storage: schemas last as long as the process. Clients use its Confluent Schema Registry API
(``/apis/ccompat/v7``), the one ``SHARDLINE_SCHEMA_REGISTRY_URL`` points at. It binds
127.0.0.1 only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from shardline.stack.component import Component, Health, http_json
from shardline.stack.maven import copy_artifact
from shardline.stack.preflight import Java, PortClaim, find_java, require_tool
from shardline.stack.process import Launch
from shardline.stack.progress import Reporter
from shardline.stack.search import unpack_zip
from shardline.stack.versions import APICURIO_VERSION, apicurio_artifact

__all__ = ["RegistryComponent", "registry_properties"]

HOST = "127.0.0.1"
HEAP = "384m"


def registry_properties(*, port: int) -> dict[str, str]:
    """The Quarkus/Apicurio settings, passed as ``-D`` system properties."""
    return {
        "quarkus.http.host": HOST,
        "quarkus.http.port": str(port),
        "quarkus.http.access-log.enabled": "false",
        "quarkus.log.console.color": "false",
        # Subjects may be deleted (tests clean up after themselves).
        "registry.rest.artifact.deletion.enabled": "true",
    }


class RegistryComponent(Component):
    name = "registry"
    # ~10 s on an idle 2-core machine; longer when the machine is busy.
    health_timeout_s = 180.0

    _java: Java | None = None

    @property
    def description(self) -> str:
        return f"Apicurio Registry {APICURIO_VERSION}"

    @property
    def endpoint(self) -> str:
        return self.settings.local_schema_registry_url

    @property
    def archive(self) -> Path:
        return self.cache / f"apicurio-registry-app-{APICURIO_VERSION}-all.zip"

    @property
    def dist(self) -> Path:
        return self.cache / f"apicurio-registry-{APICURIO_VERSION}"

    @property
    def runner(self) -> Path:
        return self.dist / f"apicurio-registry-app-{APICURIO_VERSION}-runner.jar"

    def ports(self) -> list[PortClaim]:
        return [
            PortClaim(
                self.name,
                HOST,
                self.settings.schema_registry_port,
                "SHARDLINE_SCHEMA_REGISTRY_PORT",
            )
        ]

    def preflight(self) -> None:
        self._java = find_java(self.env)
        if not self.runner.is_file() and not self.archive.is_file():
            require_tool("mvn", self.env, "download Apicurio Registry from Maven Central")

    def provision(self, reporter: Reporter) -> None:
        if not self.runner.is_file():
            if not self.archive.is_file():
                with reporter.step(self.name, f"downloading Apicurio Registry {APICURIO_VERSION}"):
                    mvn = require_tool("mvn", self.env, "download Apicurio Registry")
                    self.cache.mkdir(parents=True, exist_ok=True)
                    copy_artifact(mvn, apicurio_artifact(), self.archive, self.env)
            with reporter.step(self.name, f"unpacking {self.archive.name}"):
                partial = self.dist.parent / f".{self.dist.name}.partial"
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir(parents=True)
                unpack_zip(self.archive, partial)
                shutil.rmtree(self.dist, ignore_errors=True)
                partial.replace(self.dist)
        self.dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        java = self._java or find_java(self.env)
        props = registry_properties(port=self.settings.schema_registry_port)
        return Launch(
            argv=(
                str(java.binary),
                "-Xms64m",
                f"-Xmx{HEAP}",
                f"-Djava.io.tmpdir={self.dir}",
                *(f"-D{key}={value}" for key, value in props.items()),
                "-jar",
                str(self.runner),
            ),
            env={},
            cwd=self.dir,
        )

    def probe(self, timeout_s: float = 2.0) -> Health:
        types = http_json(f"{self.endpoint}/schemas/types", timeout_s)
        if not isinstance(types, list):
            return Health(False, "no answer")
        return Health("AVRO" in types, f"schema types {', '.join(map(str, types))}")
