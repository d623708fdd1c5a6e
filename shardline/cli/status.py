"""``shardline status``: the local stack, then every pipeline and delivery stream's lag."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from shardline.settings import Settings

COMMANDS: list[click.Command] = []


@click.command("status")
@click.option("--group", "groups", multiple=True, help="Only these consumer groups.")
@click.pass_obj
def status_command(settings: Settings, groups: tuple[str, ...]) -> None:
    """Show the local stack and how far each consumer group (pipeline or delivery) is behind."""
    from shardline.lag import group_lag
    from shardline.stack import Stack

    console = Console()
    rows = Stack(settings).status()
    stack_table = Table(title="servers")
    for col in ("component", "state", "pid", "endpoint", "health"):
        stack_table.add_column(col)
    for s in rows:
        stack_table.add_row(s.name, s.state.value, str(s.pid or "-"), s.endpoint, s.health)
    console.print(stack_table)
    if not any(s.name == "kafka" and s.healthy for s in rows):
        console.print("[red]Kafka is not answering: no consumer groups to show[/red]")
        sys.exit(1)
    lags = [g for g in group_lag(settings.kafka_bootstrap) if not groups or g.group in groups]
    table = Table(title="pipelines and delivery streams (consumer groups)")
    for col, justify in (
        ("group", "left"),
        ("topic", "left"),
        ("partitions", "right"),
        ("committed", "right"),
        ("end", "right"),
        ("lag", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for g in lags:
        style = "green" if g.lag == 0 else "yellow"
        table.add_row(
            g.group,
            g.topic,
            str(g.partitions),
            f"{g.committed:,}",
            f"{g.end:,}",
            f"[{style}]{g.lag:,}[/]",
        )
    console.print(table)


COMMANDS.append(status_command)
