"""The CI soak: five minutes of random combined faults with a fixed seed, then the oracles.

Marked ``soak`` (and ``integration``): ``make test`` runs it; ``-m "not soak"`` leaves it
out. A failure prints the report, with the command that replays the same schedule.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ground.settings import Settings
from tests.soak.__main__ import replay_command
from tests.soak.report import judge, render
from tests.soak.run import SoakOptions, soak

pytestmark = [pytest.mark.integration, pytest.mark.soak, pytest.mark.timeout(1_500)]

CI_MINUTES = 5
CI_SEED = 20_261_206


def test_five_minutes_of_combined_faults(stack_settings: Settings, tmp_path: Path) -> None:
    options = SoakOptions(minutes=float(os.environ.get("SOAK_MINUTES") or CI_MINUTES),
                          seed=int(os.environ.get("SOAK_SEED") or CI_SEED),
                          workdir=tmp_path, check_memory=False)
    outcome = soak(options, stack_settings)
    judge(outcome)
    report = render(outcome, lambda: replay_command(options))
    print(report)
    kinds = {f.kind for f in outcome.schedule}
    assert len(outcome.schedule) >= 8 and len(kinds) >= 5, report
    assert outcome.failure is None, report
