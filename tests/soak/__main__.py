"""``python -m tests.soak [--minutes N] [--seed S] [--brokers 1|3]``: one soak, its report.

Exits 1 when an oracle fails (the report ends with the command that replays the same
schedule). Environment: ``SOAK_MINUTES``, ``SOAK_SEED``, ``SOAK_BROKERS`` as defaults.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ground.settings import Settings
from tests.soak.report import judge, render
from tests.soak.run import SoakOptions, soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--minutes", type=float,
                        default=float(os.environ.get("SOAK_MINUTES") or 5))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED") or 1))
    parser.add_argument("--brokers", type=int, choices=(1, 3),
                        default=int(os.environ.get("SOAK_BROKERS") or 1))
    parser.add_argument("--rate", type=float, default=25.0, help="input records per second")
    parser.add_argument("--workdir", type=Path, default=Path(
        os.environ.get("SOAK_WORKDIR") or "/tmp/shardline-soak"))
    parser.add_argument("--report", type=Path, help="also write the report to this file")
    memory = parser.add_mutually_exclusive_group()
    memory.add_argument("--check-memory", dest="check_memory", action="store_true",
                        default=None)
    memory.add_argument("--no-check-memory", dest="check_memory", action="store_false")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the proxies' every request
    options = SoakOptions(minutes=args.minutes, seed=args.seed, brokers=args.brokers,
                          rate=args.rate, workdir=args.workdir, check_memory=args.check_memory)
    outcome = soak(options, Settings.from_env())
    judge(outcome)
    text = render(outcome, lambda: replay_command(options))
    print(text, flush=True)
    if args.report is not None:
        args.report.write_text(text + "\n")
    return 1 if outcome.failure else 0


def replay_command(options: SoakOptions) -> str:
    return (f"python -m tests.soak --minutes {options.minutes:g} --seed {options.seed} "
            f"--brokers {options.brokers} --rate {options.rate:g}  "
            f"(or: make soak SOAK_MINUTES={options.minutes:g} SOAK_SEED={options.seed} "
            f"SOAK_BROKERS={options.brokers})")


if __name__ == "__main__":
    sys.exit(main())
