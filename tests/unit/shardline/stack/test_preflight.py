from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ground.errors import PortInUseError, StackError, ToolMissingError
from shardline.stack.preflight import (
    PortClaim,
    check_ports_free,
    find_java,
    require_tool,
)


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_taken_port_raises_naming_port_and_setting(listening: int) -> None:
    claim = PortClaim("kafka", "127.0.0.1", listening, "SHARDLINE_KAFKA_BOOTSTRAP")
    with pytest.raises(PortInUseError) as info:
        check_ports_free([claim])
    message = str(info.value)
    assert f"port {listening}" in message
    assert "kafka" in message and "SHARDLINE_KAFKA_BOOTSTRAP" in message


def test_free_port_passes() -> None:
    check_ports_free([PortClaim("minio", "127.0.0.1", free_port(), "SHARDLINE_S3_ENDPOINT")])


def test_same_port_twice_is_a_settings_error() -> None:
    port = free_port()
    with pytest.raises(StackError, match=f"both configured for port {port}") as info:
        check_ports_free(
            [
                PortClaim("kafka", "127.0.0.1", port, "SHARDLINE_KAFKA_BOOTSTRAP"),
                PortClaim("minio", "127.0.0.1", port, "SHARDLINE_S3_ENDPOINT"),
            ]
        )
    assert not isinstance(info.value, PortInUseError)


def test_missing_tool_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match=r"`mvn` not found on PATH.*install Maven"):
        require_tool("mvn", {"PATH": str(tmp_path)}, "download Kafka")


def test_tool_found_on_given_path(tmp_path: Path) -> None:
    tool = tmp_path / "go"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert require_tool("go", {"PATH": str(tmp_path)}) == tool


def test_no_java_on_path(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match=r"`java` not found.*JDK 17"):
        find_java({"PATH": str(tmp_path)})


def test_java_home_without_java(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match="JAVA_HOME"):
        find_java({"JAVA_HOME": str(tmp_path), "PATH": ""})


def test_java_too_old(fake_jdk) -> None:
    with pytest.raises(ToolMissingError, match="Java 11 .* too old"):
        find_java({"JAVA_HOME": str(fake_jdk(11)), "PATH": ""})


def test_java_home_preferred_and_version_read(fake_jdk) -> None:
    java = find_java({"JAVA_HOME": str(fake_jdk(21)), "PATH": ""})
    assert java.major == 21
    assert java.binary.name == "java" and java.binary.is_file()


def test_java_resolved_from_path_symlink(fake_jdk, tmp_path: Path) -> None:
    jdk = fake_jdk(17)
    bindir = tmp_path / "usrbin"
    bindir.mkdir()
    (bindir / "java").symlink_to(jdk / "bin" / "java")
    assert find_java({"PATH": str(bindir)}).home == jdk
