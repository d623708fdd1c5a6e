"""``python -m tests.fuzz [--minutes M] [--target NAME]``: run every fuzz target for a while.

Each target runs in its own subprocess under a hard timeout (its share of the minutes plus
a margin), so a hang that escapes the per-example deadline still ends the run. Failures
print hypothesis's minimal example; the exit code is 1 if any target failed.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from tests.fuzz.targets import TARGETS


def _checker(func: Callable[[Any], object]) -> Callable[[Any], None]:
    from tests.fuzz.targets import check_one

    def run(value: Any) -> None:
        check_one(func, value)

    return run


def _run_one(group: str, seconds: float) -> int:
    """In-process run of one target group for ``seconds``; returns the number of failures."""
    from hypothesis import HealthCheck, given, settings

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to a Command" noise
    failures = 0
    targets = TARGETS[group]()
    per_target = seconds / len(targets)
    for target in targets:
        end = time.monotonic() + per_target
        examples = 0
        failed = False
        while time.monotonic() < end:
            run = settings(max_examples=500, deadline=None, database=None,
                           suppress_health_check=list(HealthCheck))(
                given(target.strategy)(_checker(target.func)))

            try:
                run()
            except Exception as exc:  # noqa: BLE001 - a fuzz failure, reported and counted
                failed = True
                print(f"FAIL {target.name}: {type(exc).__name__}: {exc}", flush=True)
                for sub in getattr(exc, "exceptions", [exc]):
                    traceback.print_exception(sub, limit=-4)
                break
            examples += 500
        failures += failed
        print(f"{target.name}: {examples} examples in {per_target:.0f} s, "
              f"{'FAILED' if failed else 'ok'}", flush=True)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--target", choices=sorted(TARGETS), action="append")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return 1 if _run_one(args.child, args.seconds) else 0
    groups = args.target or sorted(TARGETS)
    share = args.minutes * 60 / len(groups)
    status = 0
    for group in groups:
        cmd = [sys.executable, "-m", "tests.fuzz", "--child", group, "--seconds", str(share)]
        try:
            rc = subprocess.run(cmd, timeout=share + 120).returncode
        except subprocess.TimeoutExpired:
            print(f"FAIL {group}: hung (no answer {share + 120:.0f} s after its start)")
            rc = 1
        status |= rc != 0
    return status


if __name__ == "__main__":
    sys.exit(main())
