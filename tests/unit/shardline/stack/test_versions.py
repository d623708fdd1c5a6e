"""Versions are pinned in versions.py only: no other module of the package names one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import shardline.stack
from shardline.stack import versions

PACKAGE = Path(shardline.stack.__file__).parent
# x.y.z, but not part of a dotted quad such as 127.0.0.1
VERSION = re.compile(r"(?<![\d.])\d+\.\d+\.\d+(?![\d.])")
NOT_A_PIN = {"4.0.0"}  # the POM model version


def version_literals(source: str) -> list[str]:
    """Versions in string constants of ``source``, docstrings excluded."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        match
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
        for match in VERSION.findall(node.value)
        if match not in NOT_A_PIN
    ]


def test_no_version_literals_outside_versions_module() -> None:
    offenders = {
        path.name: version_literals(path.read_text())
        for path in PACKAGE.glob("*.py")
        if path.name != "versions.py"
    }
    assert {name: hits for name, hits in offenders.items() if hits} == {}


def test_the_check_would_catch_a_pinned_version() -> None:
    source = 'KAFKA = f"org.apache.kafka:kafka_{SCALA}:4.3.1"\nHOST = "127.0.0.1"\n'
    assert version_literals(source) == ["4.3.1"]
    assert version_literals((PACKAGE / "versions.py").read_text())


def test_pins() -> None:
    assert versions.KAFKA_VERSION == "4.3.1"
    assert versions.ELASTICSEARCH_VERSION == "8.19.21"
    assert versions.OPENSEARCH_VERSION.startswith("2.19.")
    assert re.fullmatch(r"v0\.0\.0-\d{14}-[0-9a-f]{12}", versions.MINIO_VERSION)
    assert ("org.apache.kafka", "kafka_2.13", "4.3.1") in versions.kafka_coordinates()
    assert {a for _, a, _ in versions.kafka_coordinates()} >= {"log4j-slf4j-impl", "log4j-core"}
    assert versions.elasticsearch_artifact().endswith(":elasticsearch:8.19.21:zip")
    assert versions.opensearch_artifact().startswith("org.opensearch.distribution.integ-test-zip:")


def test_public_api_sorted_and_exported() -> None:
    assert shardline.stack.__all__ == sorted(shardline.stack.__all__)
    for name in shardline.stack.__all__:
        assert hasattr(shardline.stack, name), name
    assert {"Stack", "ComponentStatus", "ComponentState"} <= set(shardline.stack.__all__)
