"""``shardline sql check|explain``: validate a KDA application and show its plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ground.errors import SqlError
from ground.settings import Settings

if TYPE_CHECKING:
    from pipelines.sql.appconfig import ApplicationConfig

COMMANDS: list[click.Command] = []
_CONFIG_NAMES = ("application.yaml", "application.yml", "application.json")


def _config_for(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    for name in _CONFIG_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


@click.group("sql")
def sql_group() -> None:
    """KDA SQL applications: check and explain."""


@sql_group.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def check_command(settings: Settings, path: Path) -> None:
    """Check an application (its folder, application.yaml or app.sql).

    With the application's config next to the code, streams, columns and types are checked
    too; a bare .sql file is checked for syntax and supported constructs.
    """
    from pipelines.sql.appconfig import load_application
    from pipelines.sql.application import check_application
    from pipelines.sql.dialect import parse_statements

    config = _config_for(path)
    if config is None:
        if path.is_dir():
            raise click.UsageError(f"no application.yaml in {path}")
        statements = parse_statements(path.read_text())
        click.echo(f"{path}: {len(statements)} statements parse (no application.yaml: not planned)")
        return
    app = load_application(config)
    try:
        _, plan = check_application(config)
    except SqlError as exc:
        click.echo(f"{_where(exc, app, config)}: {exc.message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{config}: ok — {len(plan.pumps)} pumps, {len(plan.streams)} streams")


def _where(exc: SqlError, app: ApplicationConfig, config: Path) -> str:
    """Where an error is: a line and column are in the SQL code (``app.sql``), an error
    without one is about the configuration (``Outputs`` naming a stream the code lacks)."""
    if not exc.line:
        return str(config)
    code = app.code_path if app.code_path is not None else config
    return f"{code}:{exc.line}:{exc.column}"


@sql_group.command("explain")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def explain_command(settings: Settings, path: Path) -> None:
    """Print the plan: sources, pumps, windows, state and outputs."""
    from pipelines.sql.application import check_application

    config_path = _config_for(path)
    if config_path is None:
        raise click.UsageError(f"no application.yaml next to {path}")
    config, plan = check_application(config_path)
    click.echo(plan.explain())
    for i in config.inputs:
        click.echo(
            f"  source {i.stream_name} ← topic {i.topic} ({i.input_schema.format_type.value}, "
            f"{i.starting_position.value})"
        )
    for o in config.outputs:
        click.echo(f"  output {o.name} → topic {o.topic} ({o.record_format_type.value})")
    click.echo(f"  error_stream → topic {config.error_output.topic}")
    keys = sorted({k for i in config.inputs for k in i.partition_key})
    for pump in plan.pumps:
        if not pump.aligned_with(keys):
            click.echo(
                f"  note: pump {pump.name} groups by {list(pump.key_columns or ())}, not by the "
                f"input PartitionKey {keys or '(none declared)'}: it needs a one-partition input"
            )


COMMANDS.append(sql_group)
