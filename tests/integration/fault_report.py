"""What each fault-suite test measured, for docs/faults.md.

:func:`report` prints one ``FAULTS scenario=N key=value …`` line (visible with ``pytest -s``)
and, when ``SHARDLINE_FAULTS_REPORT`` names a file, appends the same as a JSON line to it
(``make faults`` does), so the matrix's "last run" column comes from a real run::

    SHARDLINE_FAULTS_REPORT=faults.jsonl .venv/bin/python -m pytest -m faults tests/integration
    .venv/bin/python -m tests.integration.fault_report faults.jsonl     # one line per test
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

__all__ = ["ENV", "report"]

ENV = "SHARDLINE_FAULTS_REPORT"


def report(scenario: int, **measured: object) -> None:
    """One line of what a test measured (its scenario number in issue 5's list)."""
    fields = " ".join(
        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in measured.items()
    )
    print(f"\nFAULTS scenario={scenario} {fields}", flush=True)
    path = os.environ.get(ENV)
    if path:
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        line = {"scenario": scenario, "test": test, "at": int(time.time()), **measured}
        with Path(path).open("a") as f:
            f.write(json.dumps(line, default=str) + "\n")


def main(argv: list[str]) -> None:
    for raw in Path(argv[0]).read_text().splitlines():
        row = json.loads(raw)
        rest = {k: v for k, v in row.items() if k not in ("scenario", "test", "at")}
        print(f"{row['scenario']:>2}  {row['test']}  {rest}")


if __name__ == "__main__":
    main(sys.argv[1:])
