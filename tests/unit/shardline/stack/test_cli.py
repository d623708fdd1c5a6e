from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from shardline.cli import main


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SHARDLINE_HOME": str(tmp_path / "home"),
        "SHARDLINE_CACHE": str(tmp_path / "cache"),
        "SHARDLINE_KAFKA_BOOTSTRAP": "127.0.0.1:39492",
        "SHARDLINE_KAFKA_CONTROLLER_PORT": "39493",
        **extra,
    }


def test_missing_tool_is_one_line_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stack", "up", "kafka"], env=env(tmp_path, PATH=""))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("shardline: error: `java` not found on PATH")
    assert "Traceback" not in result.output


def test_stack_registered_with_subcommands() -> None:
    group = main.commands["stack"]
    assert set(group.commands) == {"up", "down", "status", "logs"}  # type: ignore[attr-defined]


def test_logs_of_component_without_log(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stack", "logs", "minio"], env=env(tmp_path))
    assert result.exit_code == 0
    assert "no log yet" in result.output


def test_logs_tails_the_file(tmp_path: Path) -> None:
    log = tmp_path / "home" / "kafka" / "kafka.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"l{i}\n" for i in range(100)))
    result = CliRunner().invoke(main, ["stack", "logs", "kafka", "-n", "2"], env=env(tmp_path))
    assert result.output.splitlines() == ["l98", "l99"]


def test_down_with_nothing_running(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stack", "down"], env=env(tmp_path))
    assert result.exit_code == 0
    assert "stopped: nothing" in result.output


def test_port_in_use_exit_2_names_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = CliRunner().invoke(
            main,
            ["stack", "up", "minio"],
            env=env(
                tmp_path,
                SHARDLINE_S3_ENDPOINT=f"http://127.0.0.1:{port}",
                PATH="/usr/bin:/bin:/usr/local/go/bin:/usr/local/bin",
            ),
        )
    # Either the port is reported, or (no Go here) the missing tool: both one line, exit 2.
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("shardline: error: ")
    assert f"port {port}" in last or "`go` not found" in last


def test_secure_listener_port_must_differ_from_the_plain_one(tmp_path: Path) -> None:
    same = env(tmp_path, PATH="", SHARDLINE_KAFKA_SECURE_PORT="39492")
    plain = CliRunner().invoke(main, ["stack", "up", "kafka"], env=same)
    assert "`java` not found" in plain.output  # without --secure the port is not claimed
    result = CliRunner().invoke(main, ["stack", "up", "kafka", "--secure"], env=same)
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("shardline: error: ") and "39492" in last
    assert "SHARDLINE_KAFKA_SECURE_PORT" in last and "SHARDLINE_KAFKA_BOOTSTRAP" in last


def test_up_secure_reaches_the_search_component(tmp_path: Path) -> None:
    """--secure is SHARDLINE_STACK_SECURE=1 for the stack: the OpenSearch zip cannot do it."""
    result = CliRunner().invoke(main, ["stack", "up", "--secure", "search"],
                                env=env(tmp_path, SHARDLINE_SEARCH_ENGINE="opensearch"))
    assert result.exit_code == 2
    assert "no security plugin" in result.output.strip().splitlines()[-1]
