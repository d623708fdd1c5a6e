"""The delivery benchmark's --smoke run works end to end (numbers are never asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shardline.settings import Settings
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
