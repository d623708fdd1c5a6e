"""``shardline demo``: the whole pipeline end to end on the local stack, checked."""

from __future__ import annotations

import sys

import click

from ground.settings import Settings

COMMANDS: list[click.Command] = []


@click.command("demo")
@click.option(
    "--records", type=int, default=20_000, show_default=True, help="Ticker records to produce."
)
@click.option(
    "--partitions", type=int, default=4, show_default=True, help="Partitions (shards) of the input."
)
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the data set.")
@click.option(
    "--malformed", type=int, default=5, show_default=True, help="Malformed records to mix in."
)
@click.option(
    "--disorder-ms",
    type=int,
    default=8_000,
    show_default=True,
    help="How far event times run behind (beyond the app's 5 s lateness: late rows).",
)
@click.option(
    "--no-stack", is_flag=True, help="Use running servers (SHARDLINE_* settings) instead."
)
@click.pass_obj
def demo_command(
    settings: Settings,
    records: int,
    partitions: int,
    seed: int,
    malformed: int,
    disorder_ms: int,
    no_stack: bool,
) -> None:
    """Produce, run the ticker-analytics SQL application, deliver, check against DuckDB."""
    from shardline.demo import DemoConfig, run_demo

    result = run_demo(
        settings,
        DemoConfig(
            records=records,
            partitions=partitions,
            seed=seed,
            malformed=malformed,
            disorder_ms=disorder_ms,
            start_stack=not no_stack,
        ),
    )
    sys.exit(0 if result.ok else 1)


COMMANDS.append(demo_command)
