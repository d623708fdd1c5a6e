"""``shardline sql check|explain|reset``: validate a KDA application, show its plan (stages
and repartition topics included), forget its progress and state."""

from __future__ import annotations

from pathlib import Path

import click

from ground.errors import SqlError
from ground.settings import Settings

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
    """KDA SQL applications: check, explain and reset."""


@sql_group.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def check_command(settings: Settings, path: Path) -> None:
    """Check an application (its folder, application.yaml or app.sql).

    With the application's config next to the code, streams, columns and types are checked
    too; a bare .sql file is checked for syntax and supported constructs.
    """
    from pipelines.sql.application import application_topology, check_application
    from pipelines.sql.dialect import parse_statements

    config = _config_for(path)
    if config is None:
        if path.is_dir():
            raise click.UsageError(f"no application.yaml in {path}")
        statements = parse_statements(path.read_text())
        click.echo(f"{path}: {len(statements)} statements parse (no application.yaml: not planned)")
        return
    try:
        checked, plan = check_application(config)
    except SqlError as exc:
        code = path if path.suffix == ".sql" else config
        click.echo(f"{code}:{exc.line}:{exc.column}: {exc.message}", err=True)
        raise SystemExit(1) from None
    repartitions = len(application_topology(checked, plan).repartitions)
    click.echo(
        f"{config}: ok — {len(plan.pumps)} pumps, {len(plan.streams)} streams"
        + (f", {repartitions} repartition topics (sql explain says why)" if repartitions else "")
    )


@sql_group.command("explain")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def explain_command(settings: Settings, path: Path) -> None:
    """Print the plan: sources, pumps, windows, state, stages, repartition topics and outputs."""
    from pipelines.sql.application import application_topology, check_application

    config_path = _config_for(path)
    if config_path is None:
        raise click.UsageError(f"no application.yaml next to {path}")
    config, plan = check_application(config_path)
    click.echo(plan.explain())
    for line in application_topology(config, plan).explain():
        click.echo(line)
    for i in config.inputs:
        click.echo(
            f"  source {i.stream_name} ← topic {i.topic} ({i.input_schema.format_type.value}, "
            f"{i.starting_position.value})"
        )
    for o in config.outputs:
        click.echo(f"  output {o.name} → topic {o.topic} ({o.record_format_type.value})")
    click.echo(f"  error_stream → topic {config.error_output.topic}")


@sql_group.command("reset")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def reset_command(settings: Settings, path: Path, yes: bool) -> None:
    """Forget an application's progress and state, to run it again from its inputs.

    Deletes its consumer group (the committed offsets), the changelog topics of its state and
    its repartition topics. Output and error topics are left alone. Stop its workers first.
    """
    from ground.kafka import delete_consumer_group, delete_topics, list_topic_names
    from pipelines.sql.application import check_application, internal_topics

    config_path = _config_for(path)
    if config_path is None:
        raise click.UsageError(f"no application.yaml next to {path}")
    config, plan = check_application(config_path)
    kafka = settings.kafka
    existing = list_topic_names(kafka)
    doomed = [t for t in internal_topics(config, plan, existing) if t in existing]
    group = config.application_name
    click.echo(f"application {group}: consumer group {group}")
    for topic in doomed:
        click.echo(f"  topic {topic}")
    if not yes:
        click.confirm("delete them?", abort=True)
    had_group = delete_consumer_group(kafka, group)
    deleted = delete_topics(kafka, doomed)
    click.echo(
        f"deleted {'the consumer group and ' if had_group else ''}{len(deleted)} topics; the "
        "next worker starts from each input's StartingPosition"
    )


COMMANDS.append(sql_group)
