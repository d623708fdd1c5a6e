"""`shardline stack up | down | status | logs` — the local servers, without Docker."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO

import click
from rich.console import Console
from rich.table import Table

from ground.settings import Settings
from shardline.stack import COMPONENTS, ComponentState, ConsoleReporter, Stack
from shardline.stack.kafka import KafkaComponent
from shardline.stack.process import tail

__all__ = ["COMMANDS", "stack"]

_STATE_STYLE = {
    ComponentState.RUNNING: "green",
    ComponentState.EXTERNAL: "cyan",
    ComponentState.STARTING: "yellow",
    ComponentState.STOPPED: "red",
}


def _stack(ctx: click.Context, *, secure: bool = False) -> Stack:
    settings: Settings = ctx.find_object(Settings) or Settings.from_env()
    if secure and not settings.stack_secure:  # as if SHARDLINE_STACK_SECURE=1 were set:
        # read again, so what depends on it follows (the search URL turns https, ...)
        settings = Settings.from_env({**os.environ, "SHARDLINE_STACK_SECURE": "1"})
    return Stack(settings, reporter=ConsoleReporter(_console(stderr=True)))


def _console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal:  # CI logs: do not wrap lines at 80 columns
        console = Console(stderr=stderr, width=160)
    return console


@click.group()
def stack() -> None:
    """Run Kafka, MinIO, Elasticsearch and a schema registry locally (data under
    SHARDLINE_HOME)."""


@stack.command()
@click.argument("components", nargs=-1)
@click.option("--secure", is_flag=True,
              help="Security on, same as SHARDLINE_STACK_SECURE=1 (export it for the clients "
                   "too): Kafka also listens for SASL_SSL clients (SCRAM-SHA-512 over TLS with a "
                   "local CA) on SHARDLINE_KAFKA_SECURE_PORT; Elasticsearch runs with x-pack "
                   "security (HTTPS, a superuser, API keys).")
@click.pass_context
def up(ctx: click.Context, components: tuple[str, ...], secure: bool) -> None:
    """Provision and start COMPONENTS (default: all); waits until healthy."""
    st = _stack(ctx, secure=secure)
    start = time.monotonic()
    started = st.up(components)
    what = ", ".join(started) if started else "nothing (already running)"
    click.echo(f"stack up in {time.monotonic() - start:.1f}s; started: {what}", err=True)
    _print_status(st, components)
    kafka = st.components.get("kafka")
    if st.settings.stack_secure and isinstance(kafka, KafkaComponent) and kafka in st.select(
            components):
        click.echo(
            "secured Kafka (SCRAM over TLS): SHARDLINE_KAFKA_BOOTSTRAP="
            f"{kafka.secure_bootstrap} SHARDLINE_KAFKA_CONFIG_FILE="
            f"{kafka.secure_files().client_properties}", err=True)


@stack.command()
@click.argument("components", nargs=-1)
@click.pass_context
def down(ctx: click.Context, components: tuple[str, ...]) -> None:
    """Stop COMPONENTS (default: all) started from this home; data is kept."""
    stopped = _stack(ctx).down(components)
    click.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing'}", err=True)


@stack.command()
@click.argument("components", nargs=-1)
@click.pass_context
def status(ctx: click.Context, components: tuple[str, ...]) -> None:
    """Show each component: state, pid, ports, health. Exit 1 if any is not healthy."""
    st = _stack(ctx)
    if not _print_status(st, components):
        sys.exit(1)


def _print_status(st: Stack, components: tuple[str, ...]) -> bool:
    rows = st.status(components)
    table = Table(title=f"shardline stack ({st.settings.home})")
    for col in ("component", "server", "state", "pid", "ports", "endpoint", "health"):
        table.add_column(col)
    for s in rows:
        table.add_row(
            s.name,
            s.description,
            f"[{_STATE_STYLE[s.state]}]{s.state.value}[/]",
            str(s.pid) if s.pid else "-",
            ", ".join(str(p) for p in s.ports.values()),
            s.endpoint,
            s.health,
        )
    _console().print(table)
    return all(s.healthy for s in rows)


@stack.command()
@click.argument(
    "component",
    required=False,
    type=click.Choice(
        [*COMPONENTS, "elasticsearch", "opensearch", "s3", "apicurio"], case_sensitive=False
    ),
)
@click.option("-n", "--lines", default=50, show_default=True, help="Lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.pass_context
def logs(ctx: click.Context, component: str | None, lines: int, follow: bool) -> None:
    """Print the last lines of a component's log (all components if none given)."""
    st = _stack(ctx)
    names = [component] if component else list(COMPONENTS)
    paths = [st.log_path(n) for n in names]
    for name, path in zip(names, paths, strict=True):
        if len(paths) > 1:
            click.echo(f"==> {name}: {path} <==")
        if not path.exists():
            click.echo(f"(no log yet at {path})")
            continue
        for line in tail(path, lines):
            click.echo(line)
    if follow:
        _follow(paths)


def _follow(paths: list[Path]) -> None:
    handles: dict[Path, TextIO] = {}
    for path in paths:
        if path.exists():
            handles[path] = open(path, encoding="utf-8", errors="replace")
            handles[path].seek(0, 2)
    try:
        while True:
            for handle in handles.values():
                for line in handle:
                    click.echo(line, nl=False)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for handle in handles.values():
            handle.close()


COMMANDS: list[click.Command] = [stack]
