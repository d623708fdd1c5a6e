"""``shardline sql reset`` refuses while the application's workers are in its consumer group,
naming how many and how to stop them; ``--force`` waits for members that are gone. Against a
fake broker: the admin calls the command makes."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import ground.kafka
from shardline.cli import main
from shardline.cli import sql as sql_cli

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "tests" / "integration" / "sql_apps" / "top_k"


class Broker:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, members: list[list[str]]) -> None:
        self.members = members  # what each describe of the group answers, the last repeated
        self.described = 0
        self.deleted: list[str] = []
        self.group_deleted = False
        monkeypatch.setattr(ground.kafka, "group_members", self.group_members)
        monkeypatch.setattr(ground.kafka, "list_topic_names", lambda _k: self.topics)
        monkeypatch.setattr(ground.kafka, "delete_consumer_group", self.delete_group)
        monkeypatch.setattr(ground.kafka, "delete_topics", self.delete_topics)
        monkeypatch.setattr(sql_cli, "_RESET_POLL_S", 0.01)
        self.topics = ["ticker", "app-ticker-changelog", "app-plan", "app-TOP_PUMP-repartition",
                       "top-k-errors"]  # fmt: skip

    def group_members(self, _kafka: Any, group: str) -> list[str]:
        assert group == "app"
        answer = self.members[min(self.described, len(self.members) - 1)]
        self.described += 1
        return answer

    def delete_group(self, _kafka: Any, group: str) -> bool:
        self.group_deleted = True
        return True

    def delete_topics(self, _kafka: Any, topics: Any) -> list[str]:
        self.deleted = list(topics)
        return self.deleted


def _folder(tmp_path: Path, session_timeout_ms: int = 1_000) -> Path:
    config = yaml.safe_load((TEMPLATE / "application.yaml").read_text())
    config["ApplicationName"] = "app"
    config["ApplicationCode"] = str(TEMPLATE / "app.sql")
    config["Runtime"] = {**config["Runtime"], "SessionTimeoutMs": session_timeout_ms}
    (tmp_path / "application.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _reset(folder: Path, *flags: str) -> Result:
    return CliRunner().invoke(main, ["sql", "reset", "--yes", *flags, str(folder)])


def test_stopped_workers_the_group_and_internal_topics_go(tmp_path, monkeypatch) -> None:
    broker = Broker(monkeypatch, [[]])
    done = _reset(_folder(tmp_path))
    assert done.exit_code == 0, done.output
    assert broker.group_deleted
    assert sorted(broker.deleted) == ["app-TOP_PUMP-repartition", "app-plan",
                                      "app-ticker-changelog"]  # fmt: skip


def test_running_workers_are_named_and_nothing_is_deleted(tmp_path, monkeypatch) -> None:
    broker = Broker(monkeypatch, [["w1-abc (127.0.0.1)", "w2-def (10.0.0.2)"]])
    done = _reset(_folder(tmp_path))
    assert done.exit_code == 1
    assert "consumer group app has 2 active members (w1-abc (127.0.0.1), w2-def (10.0.0.2))" in (
        done.output)
    assert "kill -TERM" in done.output and "--force" in done.output
    assert broker.described == 1  # no waiting without --force
    assert not broker.group_deleted and broker.deleted == []


def test_force_waits_for_members_that_are_gone(tmp_path, monkeypatch) -> None:
    broker = Broker(monkeypatch, [["w1-abc (127.0.0.1)"], ["w1-abc (127.0.0.1)"], []])
    done = _reset(_folder(tmp_path), "--force")
    assert done.exit_code == 0, done.output
    assert "waiting up to 6000 ms" in done.output  # the session timeout and a grace
    assert broker.described == 3 and broker.group_deleted and broker.deleted


def test_force_gives_up_on_members_that_stay(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sql_cli, "RESET_GRACE_MS", 0)
    broker = Broker(monkeypatch, [["w1-abc (127.0.0.1)"]])
    done = _reset(_folder(tmp_path), "--force")
    assert done.exit_code == 1
    assert "1 active member (w1-abc (127.0.0.1))" in done.output
    assert "they are alive" in done.output
    assert broker.described > 2 and not broker.group_deleted and broker.deleted == []
