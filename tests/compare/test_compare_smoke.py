"""The side-by-side harness's --smoke run works end to end (numbers are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ground.settings import Settings
from tests.integration.workers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.compare]


def test_compare_smoke(stack_settings: Settings, tmp_path: Path) -> None:
    """The side-by-side harness runs every system of workloads 1-3 (Quix Streams in its own
    cached virtualenv) and checks each one's results; numbers are never asserted."""
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--smoke",
         "--workloads", "1,2,3", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    ran = {(r["workload"].split()[0], r["system"]) for r in rows}
    assert ran == {("1", "ceiling"), ("2", "sql"), ("2", "faust"), ("2", "quix"),
                   ("3", "sql"), ("3", "quix")}, ran
    for r in rows:
        assert r["records"] > 0, r
    # Shardline's windows were checked against every expected (key, window) count
    assert all("windows checked" in r["note"] for r in rows
               if r["system"] == "sql" and r["workload"].startswith("2")), rows
    assert "| workload | system |" in proc.stdout
