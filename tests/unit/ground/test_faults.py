"""The fault hooks' parsing, and the stuck call that fires once, in this process only."""

from __future__ import annotations

import pytest

from ground.errors import ConfigError
from ground.faults import ENV, Faults


def test_faults_parse_and_unknown_names_name_the_variable() -> None:
    f = Faults.parse("commit_delay_ms=5000, stuck_offsets_after=3")
    assert (f.commit_delay_ms, f.part_delay_ms, f.stuck_offsets_after) == (5000, 0, 3)
    with pytest.raises(ConfigError, match=ENV):
        Faults.parse("nope=1")
    with pytest.raises(ConfigError, match="expected milliseconds"):
        Faults.parse("commit_delay_ms=soon")


def test_the_stuck_call_fires_once_and_leaves_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, "commit_delay_ms=10,stuck_offsets_after=2")
    f = Faults.parse("commit_delay_ms=10,stuck_offsets_after=2")
    assert [f.stuck_offsets(n) for n in (1, 2, 2, 3)] == [False, True, False, False]
    # a process started again inherits the rest of the faults, not this one
    import os

    assert os.environ[ENV] == "commit_delay_ms=10"
    assert Faults.parse(os.environ[ENV]).stuck_offsets_after == 0


def test_the_lost_commit_reply_fires_once() -> None:
    f = Faults.parse("lost_commit_reply_after=3")
    assert [f.lost_commit_reply(n) for n in (1, 2, 3, 3, 4)] == [False, False, True, False, False]
