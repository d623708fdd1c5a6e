"""The benchmarks' --smoke runs work end to end (numbers are never asserted).

The side-by-side comparison with the peers is not here: ``make compare``
(``tests/compare``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ground.settings import Settings
from tests.integration.workers import ROOT

pytestmark = pytest.mark.integration


def test_delivery_throughput_smoke(stack_settings: Settings) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "delivery_throughput.py"), "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "records/s" in out and "peak RSS" in out
    # every run's own read-back check passed (the benchmark exits 1 on a mismatch)
    for label in ("ceiling: consume(n) + Record", "MinIO, GZIP, SizeInMBs 5",
                  "Elasticsearch _bulk, SizeInMBs 5", "memory: MinIO, SizeInMBs 1, cap 1 MB"):
        assert label in out, out
    assert out.count(" OK") >= 3 and "MISMATCH" not in out


def _smoke(script: str, tmp_path_json: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--smoke", "--json", tmp_path_json],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


ROW_KEYS = {"workload", "system", "records", "records_per_s", "runs", "cpu_s", "peak_rss_mb",
            "latency_p50_ms", "latency_p99_ms", "note"}


def test_end_to_end_smoke(stack_settings: Settings, tmp_path: Path) -> None:
    """Workload 4: every id passing the filter lands exactly once in MinIO and in ES, the
    tumbling pump's rows equal a group-by of what was sent (the script's own read-back)."""
    out = _smoke("end_to_end.py", str(tmp_path / "rows.json"))
    for dest in ("SQL output (Kafka)", "MinIO", "Elasticsearch (readable, real-time GET)",
                 "Elasticsearch (searchable, _search)", "windows"):
        assert any(line.startswith(dest) and line.rstrip().endswith("OK")
                   for line in out.splitlines()), out
    assert "MISMATCH" not in out
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert len(rows) == 4 and all(set(r) == ROW_KEYS for r in rows), rows
    assert all(r["note"].startswith("OK") and r["latency_p99_ms"] is None for r in rows)


def test_scale_out_smoke(stack_settings: Settings, tmp_path: Path) -> None:
    """Workload 5: 1 and then 2 workers each produce one row per (key, window) with the
    count/sum/min/max of a Python group-by of the input."""
    out = _smoke("scale_out.py", str(tmp_path / "rows.json"))
    assert "1 worker(s):" in out and "2 worker(s):" in out and "MISMATCH" not in out, out
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert len(rows) == 2 and all(set(r) == ROW_KEYS for r in rows), rows
    assert all(r["note"].startswith("OK") and r["records_per_s"] is None for r in rows)


def test_rcf_smoke() -> None:
    """Offline (no stack): the three RANDOM_CUT_FOREST cases run and pass their own checks
    (one row per record, the learning phase, HIGH heart rates above the 99th percentile)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "rcf.py"), "--smoke", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    for case in ("forest", "engine", "processor"):
        assert result[case] > 0 and result[f"{case}_cpu"] > 0
    assert result["target"] == 20_000
