"""``shardline status``: the local stack, then every pipeline and delivery stream's lag."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from ground.settings import Settings

if TYPE_CHECKING:
    from shardline.lag import GroupLag

COMMANDS: list[click.Command] = []


@click.command("status")
@click.option("--group", "groups", multiple=True, help="Only these consumer groups.")
@click.option("--partitions/--no-partitions", default=True, show_default=True,
              help="One row per partition under each group's total.")
@click.pass_obj
def status_command(settings: Settings, groups: tuple[str, ...], partitions: bool) -> None:
    """Show the local stack and how far each consumer group (pipeline or delivery) is behind."""
    from ground.errors import BrokerUnavailableError
    from ground.kafka import wait_for_broker
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
    # The clients' configuration, secrets as ***.
    console.print(f"Kafka clients: {settings.kafka.describe()}", markup=False, highlight=False)
    if not any(s.name == "kafka" and s.healthy for s in rows):
        try:  # refused credentials, an untrusted certificate: their own error (exit 2)
            wait_for_broker(settings.kafka, timeout_s=2.0)
        except BrokerUnavailableError:
            console.print("[red]Kafka is not answering: no consumer groups to show[/red]")
            sys.exit(1)
    lags = [g for g in group_lag(settings.kafka) if not groups or g.group in groups]
    console.print(lag_table(lags, partitions=partitions))


def lag_table(lags: list[GroupLag], *, partitions: bool = True) -> Table:
    """Per group and topic the total lag, then (``partitions``) one row per partition."""
    table = Table(title="pipelines and delivery streams (consumer groups)")
    for col, justify in (
        ("group", "left"),
        ("topic", "left"),
        ("partition", "right"),
        ("committed", "right"),
        ("end", "right"),
        ("lag", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for g in lags:
        table.add_row(g.group, g.topic, f"all {g.partitions}", f"{g.committed:,}", f"{g.end:,}",
                      _lag(g.lag), end_section=not partitions)
        if not partitions:
            continue
        for i, p in enumerate(g.by_partition):
            committed = "-" if p.committed is None else f"{p.committed:,}"
            table.add_row("", "", str(p.partition), committed, f"{p.end:,}", _lag(p.lag),
                          end_section=i == len(g.by_partition) - 1)
    return table


def _lag(lag: int) -> str:
    style = "green" if lag == 0 else "yellow"
    return f"[{style}]{lag:,}[/]"


COMMANDS.append(status_command)
