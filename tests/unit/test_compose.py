"""docker-compose.yml: valid against the Compose Specification, and consistent with the repo.

Docker does not run here, so the file is checked statically:

* against the Compose Specification JSON schema shipped in the PyPI package
  ``docker-compose==1.29.2`` (``compose/config/compose_spec.json``), downloaded once with
  ``pip download`` into ``<SHARDLINE_CACHE>/compose-spec/`` and pinned by SHA-256;
* for what the schema cannot see: ``depends_on`` targets exist (and have a healthcheck when
  waited on as healthy), images are pinned, SHARDLINE_* names are ones Settings reads, host
  ports match the Settings defaults, worker commands are registered ``shardline``
  subcommands and their paths exist;
* against README.md: every service named in a ``docker compose <command> <service>...``
  line (inline code or a code block) must exist. Skipped while README.md does not exist.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shlex
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from ground.errors import ConfigError
from ground.kafka_config import ENV_PREFIX as KAFKA_ENV_PREFIX
from ground.kafka_config import KafkaConfig
from ground.settings import DEFAULTS, ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
README = ROOT / "README.md"

SPEC_PACKAGE = "docker-compose==1.29.2"
SPEC_MEMBER = "compose/config/compose_spec.json"
SPEC_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"


# --------------------------------------------------------------------------- the schema


def _spec_path() -> Path:
    return Settings.from_env().cache.expanduser() / "compose-spec" / "compose_spec-1.29.2.json"


def _download_spec(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", "-d", tmp, SPEC_PACKAGE]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=180)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", "") or ""
            pytest.fail(
                f"could not download {SPEC_PACKAGE} for the Compose Specification schema "
                f"({exc}); {output.strip()[-500:]}\nPut {SPEC_MEMBER} from that wheel at "
                f"{target} to run offline.", pytrace=False)
        wheels = list(Path(tmp).glob("docker_compose-1.29.2-*.whl"))
        assert wheels, f"pip download left no wheel in {tmp}"
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(SPEC_MEMBER)
    if hashlib.sha256(data).hexdigest() != SPEC_SHA256:
        pytest.fail(f"{SPEC_MEMBER} of {SPEC_PACKAGE} does not have the pinned SHA-256",
                    pytrace=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{id(data)}.tmp")
    partial.write_bytes(data)
    partial.replace(target)  # atomic: concurrent test runs never see half a file


@pytest.fixture(scope="module")
def compose_spec() -> dict[str, Any]:
    path = _spec_path()
    if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != SPEC_SHA256:
        _download_spec(path)
    spec = json.loads(path.read_text("utf-8"))
    jsonschema.Draft201909Validator.check_schema(spec)
    return spec


def schema_errors(spec: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft201909Validator(spec)
    return sorted(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(document)
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text("utf-8"))


# --------------------------------------------------------------------------- repo checks


def consistency_errors(doc: dict[str, Any]) -> list[str]:
    """What the Compose schema cannot check: cross references and agreement with the repo."""
    errors: list[str] = []
    services: dict[str, Any] = doc.get("services") or {}
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        for dep in deps:
            if dep not in services:
                errors.append(f"{name}: depends_on unknown service {dep!r}")
            elif isinstance(deps, dict) and deps[dep].get("condition") == "service_healthy" \
                    and "healthcheck" not in services[dep]:
                errors.append(f"{name}: waits for {dep!r} to be healthy, which has no healthcheck")
        image = svc.get("image", "")
        if "build" not in svc:
            tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
            if not tag or tag == "latest":
                errors.append(f"{name}: image {image!r} is not pinned to a version tag")
        env = svc.get("environment") or {}
        names = env if isinstance(env, dict) else [e.partition("=")[0] for e in env]
        for var in names:
            if var.startswith(ENV_PREFIX) and var[len(ENV_PREFIX):] not in DEFAULTS \
                    and not _kafka_property(var, env[var] if isinstance(env, dict) else "x"):
                errors.append(f"{name}: {var} is not a variable shardline/settings.py reads")
    return errors


def _kafka_property(var: str, value: str) -> bool:
    """Whether ``var`` passes a librdkafka property through (``SHARDLINE_KAFKA_<PROPERTY>``,
    checked by librdkafka itself); ``${X:-default}`` values are read as their default."""
    if not var.startswith(KAFKA_ENV_PREFIX):
        return False
    value = re.sub(r"\$\{[^:}]*:-([^}]*)\}", r"\1", str(value))
    try:
        KafkaConfig.from_env({var: value}, default_bootstrap="h:1")
    except ConfigError:
        return False
    return True


def test_compose_file_is_valid_against_the_compose_spec(compose_spec, compose):
    assert schema_errors(compose_spec, compose) == []


def test_compose_file_is_consistent(compose):
    assert consistency_errors(compose) == []


def test_expected_services_and_images(compose):
    services = compose["services"]
    assert set(services) >= {"kafka", "minio", "elasticsearch", "registry", "pipeline",
                             "delivery-s3", "delivery-es", "producer"}
    assert services["kafka"]["image"] == "apache/kafka:4.3.1"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert re.fullmatch(r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ",
                        services["minio"]["image"])
    es = services["elasticsearch"]
    assert es["image"] == "docker.elastic.co/elasticsearch/elasticsearch:8.19.21"
    assert es["environment"]["discovery.type"] == "single-node"
    assert es["environment"]["xpack.security.enabled"] == "false"
    # the image brings its JDK 21: Apicurio 3, where the local stack runs 2.6 on Java 17
    assert re.fullmatch(r"apicurio/apicurio-registry:3\.\d+\.\d+", services["registry"]["image"])
    for name in ("kafka", "minio", "elasticsearch", "registry"):
        assert "healthcheck" in services[name], name


def test_host_ports_match_settings_defaults(compose):
    defaults = Settings.from_env({})
    published = {
        name: {int(p.split(":")[-2]) for p in svc.get("ports", [])}
        for name, svc in compose["services"].items()
    }
    assert defaults.kafka_port in published["kafka"]
    assert defaults.kafka_secure_port in published["kafka"]
    assert {defaults.s3_port, defaults.s3_console_port} <= published["minio"]
    assert defaults.search_port in published["elasticsearch"]
    assert defaults.schema_registry_port in published["registry"]


def test_shardline_services_use_settings_and_registered_commands(compose):
    from shardline.cli import main

    workers = {n: s for n, s in compose["services"].items() if "build" in s}
    assert set(workers) == {"pipeline", "delivery-s3", "delivery-es", "producer"}
    for name, svc in workers.items():
        env = svc["environment"]
        # Inside the network the servers are reached by service name.
        settings = Settings.from_env({k: v for k, v in env.items() if "${" not in v})
        deps = svc["depends_on"]
        assert settings.kafka_bootstrap.split(":")[0] in compose["services"], name
        assert settings.s3_endpoint.split("//")[1].split(":")[0] in compose["services"], name
        assert settings.search_url.split("//")[1].split(":")[0] in compose["services"], name
        registry = settings.schema_registry_url
        assert registry.split("//")[1].split(":")[0] in compose["services"], name
        assert registry.endswith("/apis/ccompat/v7"), name
        assert deps["registry"]["condition"] == "service_healthy", name
        cmd = svc["command"]
        argv = shlex.split(cmd) if isinstance(cmd, str) else cmd
        assert argv[0] == "shardline" and argv[1] in main.commands, (name, argv)
        for arg in argv[2:]:
            if arg.startswith("/app/"):
                assert (ROOT / arg.removeprefix("/app/")).exists(), (name, arg)
            elif arg.startswith(("pipelines/", "connectors/")):
                assert (ROOT / arg).exists(), (name, arg)
        assert deps["kafka"]["condition"] == "service_healthy", name


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text("utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert "pip install" in text
    ignored = (ROOT / ".dockerignore").read_text("utf-8").split()
    assert ".venv" in ignored and ".git" in ignored


# The validation really bites: broken copies of the file fail.
BREAKAGES = [
    ("misspelled service key", lambda d: d["services"]["kafka"].update(
        helthcheck=d["services"]["kafka"].pop("healthcheck"))),
    ("bad depends_on condition", lambda d: d["services"]["pipeline"]["depends_on"]["kafka"]
        .update(condition="service_heathy")),
    ("services as a list", lambda d: d.update(services=list(d["services"]))),
    ("unknown top-level key", lambda d: d.update(servics=d["services"])),
    ("ports not a list", lambda d: d["services"]["kafka"].update(ports="19092:19092")),
    ("healthcheck retries a string", lambda d: d["services"]["minio"]["healthcheck"].update(
        retries="many")),
]


@pytest.mark.parametrize(("what", "breakage"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_broken_copies_fail_validation(compose_spec, compose, what, breakage):
    broken = copy.deepcopy(compose)
    breakage(broken)
    assert schema_errors(compose_spec, broken), what


def test_broken_cross_references_are_caught(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["pipeline"]["depends_on"]["kafak"] = {"condition": "service_healthy"}
    broken["services"]["minio"]["image"] = "minio/minio:latest"
    broken["services"]["producer"]["environment"]["SHARDLINE_KAFKA_BOOTSTRAPS"] = "kafka:9092"
    broken["services"]["pipeline"]["environment"] = {
        **broken["services"]["pipeline"]["environment"],
        "SHARDLINE_KAFKA_CLIENT_ID": "pipeline",  # a librdkafka property: fine
    }
    errors = consistency_errors(broken)
    assert not any("SHARDLINE_KAFKA_CLIENT_ID" in e for e in errors)
    assert any("unknown service 'kafak'" in e for e in errors)
    assert any("not pinned" in e for e in errors)
    assert any("SHARDLINE_KAFKA_BOOTSTRAPS" in e for e in errors)


# --------------------------------------------------------------------------- README names

SERVICE_COMMANDS = {"up", "run", "start", "stop", "restart", "logs", "create", "pull", "build",
                    "rm", "kill", "pause", "unpause", "ps", "exec", "top", "events", "port"}
SINGLE_SERVICE = {"run", "exec", "port"}  # one service, then that service's arguments
GLOBAL_WITH_VALUE = {"-f", "--file", "-p", "--project-name", "--profile", "--env-file",
                     "--project-directory", "--ansi", "--progress", "--parallel"}
WITH_VALUE = {"-e", "--env", "--name", "-u", "--user", "-w", "--workdir", "--entrypoint",
              "-v", "--volume", "-p", "--publish", "-l", "--label", "-t", "--timeout",
              "--wait-timeout", "-n", "--tail", "--since", "--until", "--pull", "--index"}
NAMES_A_SERVICE = {"--scale", "--exit-code-from", "--attach", "--no-attach"}
_COMMAND = re.compile(r"docker[ -]compose\s+([^`#;&|\n]*)")


def readme_service_names(text: str) -> set[str]:
    """Services named by ``docker compose <command> [options] <service>...`` in ``text``.

    The convention for README.md: name services only in such commands, in inline code
    (`` `docker compose up pipeline` ``) or in a code block, one command per line.
    """
    names: set[str] = set()
    for match in _COMMAND.finditer(text):
        tokens = match.group(1).split()
        while tokens and tokens[0].startswith("-"):  # global options
            opt = tokens.pop(0)
            if opt in GLOBAL_WITH_VALUE and "=" not in opt and tokens:
                tokens.pop(0)
        if not tokens or tokens[0] not in SERVICE_COMMANDS:
            continue
        command, rest = tokens[0], tokens[1:]
        while rest:
            tok = rest.pop(0)
            if tok.startswith("-"):
                opt, eq, value = tok.partition("=")
                if opt in NAMES_A_SERVICE or opt in WITH_VALUE:
                    if not eq and rest:
                        value = rest.pop(0)
                    if opt in NAMES_A_SERVICE:
                        names.add(value.partition("=")[0])
                continue
            names.add(tok)
            if command in SINGLE_SERVICE:
                break
    return names


def test_readme_name_parser():
    text = """
Start the servers with `docker compose up -d kafka minio elasticsearch`, then:

```sh
docker compose -f docker-compose.yml up --scale pipeline=2 -d pipeline delivery-s3
docker compose run --rm -e SHARDLINE_X=1 producer shardline produce --count 5
docker compose logs -f --tail 100 delivery-es   # follow
docker-compose stop producer && docker compose ps
docker compose down -v
```
"""
    assert readme_service_names(text) == {
        "kafka", "minio", "elasticsearch", "pipeline", "delivery-s3", "producer",
        "delivery-es",
    }
    assert readme_service_names("`docker compose up -d`") == set()


def test_readme_names_only_existing_services(compose):
    if not README.exists():
        pytest.skip("README.md does not exist yet")
    names = readme_service_names(README.read_text("utf-8"))
    assert names, ("README.md names no compose service: list them as `docker compose up "
                   "<service>...` commands (inline code or a code block)")
    unknown = sorted(names - set(compose["services"]))
    assert not unknown, f"README.md names services docker-compose.yml lacks: {unknown}"
