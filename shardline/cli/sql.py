"""``shardline sql check|explain|import|test|reset``: validate a KDA application, show its
plan (stages and repartition topics included), import one from KDA's JSON, run one offline
over rows of a file, forget its progress and state."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import click

from ground.errors import ShardlineError, SqlError
from ground.settings import Settings

COMMANDS: list[click.Command] = []
_CONFIG_NAMES = ("application.yaml", "application.yml", "application.json")


def _config_for(path: Path) -> Path | None:
    if path.is_file() and path.suffix in (".json", ".yaml", ".yml"):
        return path  # application.yaml under another name, or create-application input
    folder = path if path.is_dir() else path.parent
    for name in _CONFIG_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def _required_config(path: Path) -> Path:
    """The application config of ``path`` (:func:`_config_for`); a usage error without one."""
    config_path = _config_for(path)
    if config_path is None:
        raise click.UsageError(f"no application.yaml next to {path}")
    return config_path


def _code_label(path: Path, config: Path, exc: SqlError) -> str:
    """Where a SQL error is: the .sql file given, the code file the config names, or the
    inline ``ApplicationCode`` of a create-application file."""
    if path.suffix == ".sql" or not exc.line:
        return str(path if path.suffix == ".sql" else config)
    from pipelines.sql.kda_import import load_application_file

    try:
        loaded = load_application_file(config)
    except ShardlineError:
        return str(config)
    return str(loaded.code_path) if loaded.code_path else f"{config}[ApplicationCode]"


@click.group("sql")
def sql_group() -> None:
    """KDA SQL applications: check, explain, import, test offline and reset."""


@sql_group.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def check_command(settings: Settings, path: Path) -> None:
    """Check an application (its folder, application.yaml, app.sql, or a
    `aws kinesisanalytics create-application --cli-input-json` file).

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
        code = _code_label(path, config, exc)
        # an error without a line is of the configuration (Outputs naming a stream the code
        # lacks): it names the configuration file alone
        where = f"{code}:{exc.line}:{exc.column}" if exc.line else code
        click.echo(f"{where}: {exc.message}", err=True)
        raise SystemExit(1) from None
    topology = application_topology(checked, plan)
    repartitions = len(topology.repartitions)
    # streams pumps on both sides of a repartition write, which another pump reads
    gathered = sorted({s for r in topology.repartitions for s in r.gathered})
    together = (
        f"; {', '.join(gathered)} written in several stages, brought together for the pumps "
        "that read them"
        if gathered
        else ""
    )
    click.echo(
        f"{config}: ok — {len(plan.pumps)} pumps, {len(plan.streams)} streams"
        + (f", {repartitions} repartition topics (sql explain says why)" if repartitions else "")
        + together
    )


@sql_group.command("explain")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def explain_command(settings: Settings, path: Path) -> None:
    """Print the plan: sources, pumps, windows, state, stages, repartition topics and outputs."""
    from pipelines.sql.application import application_topology, check_application

    config_path = _required_config(path)
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
@click.option(
    "--force",
    is_flag=True,
    help="Go on although the consumer group has members: wait up to the application's "
    "session timeout for them to leave (workers killed with -9 stay members until then).",
)
@click.pass_obj
def reset_command(settings: Settings, path: Path, yes: bool, force: bool) -> None:
    """Forget an application's progress and state, to run it again from its inputs.

    Deletes its consumer group (the committed offsets), the changelog topics of its state,
    its repartition topics and the record of its plan. Output and error topics are left
    alone. Its workers must be stopped: while the consumer group has members nothing is
    deleted (--force waits for them to leave).
    """
    from ground.kafka import delete_consumer_group, delete_topics, list_topic_names
    from pipelines.sql.application import check_application, internal_topics

    config_path = _required_config(path)
    config, plan = check_application(config_path)
    kafka = settings.kafka
    group = config.application_name
    session_ms = config.runtime.session_timeout_ms
    members = _wait_for_empty_group(settings, group, session_ms + RESET_GRACE_MS if force else 0)
    if members:
        listed = ", ".join(members[:5]) + (" …" if len(members) > 5 else "")
        raise click.ClickException(
            f"consumer group {group} has {len(members)} active member"
            f"{'s' if len(members) > 1 else ''} ({listed}): the application's workers are "
            "running. Stop each of them first (Ctrl-C, or kill -TERM the process of each "
            f"`shardline run` of it: it leaves the group as it stops; one killed with -9 "
            f"stays a member for up to Runtime.SessionTimeoutMs, {session_ms} ms), then run "
            "the reset again"
            + (
                "; --force waited that long and they are still there: they are alive"
                if force
                else "; --force waits for members that are gone but not yet timed out"
            )
        )
    existing = list_topic_names(kafka)
    doomed = [t for t in internal_topics(config, plan, existing) if t in existing]
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


#: ``sql reset --force`` waits this much beyond the session timeout for members to leave
RESET_GRACE_MS = 5_000
_RESET_POLL_S = 1.0


def _wait_for_empty_group(settings: Settings, group: str, wait_ms: int) -> list[str]:
    """The group's members once it has none, or after ``wait_ms``."""
    import time

    from ground.kafka import group_members

    deadline = time.monotonic() + wait_ms / 1000
    members = group_members(settings.kafka, group)
    if members and wait_ms > 0:
        click.echo(f"consumer group {group} has {len(members)} members: waiting up to "
                   f"{wait_ms} ms for them to leave", err=True)  # fmt: skip
    while members and time.monotonic() < deadline:
        time.sleep(_RESET_POLL_S)
        members = group_members(settings.kafka, group)
    return members


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, target = value.partition("=")
        if not sep or not name or not target:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=option)
        pairs[name] = target
    return pairs


@sql_group.command("import")
@click.argument("description", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The application folder to write (app.sql and application.yaml).",
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="NAME=TOPIC",
    help="The Kafka topic of a Kinesis stream, Firehose delivery stream or Lambda function "
    "(by name or ARN); repeatable. Unmapped ones keep their name as the topic.",
)
@click.option("--app-name", help="Override ApplicationName.")
@click.option("--force", is_flag=True, help="Overwrite app.sql and application.yaml.")
def import_command(
    description: Path,
    out_dir: Path,
    topics: tuple[str, ...],
    app_name: str | None,
    force: bool,
) -> None:
    """Import a KDA application from DESCRIPTION: the JSON of
    `aws kinesisanalytics describe-application`, or `create-application --cli-input-json`
    input. Writes OUT/app.sql and OUT/application.yaml, then checks them.
    """
    import yaml

    from ground.config_reader import load_document
    from pipelines.sql.application import check_application
    from pipelines.sql.kda_import import import_kda_description, kda_resources, to_mapping

    data = load_document(description)
    if not isinstance(data, dict):
        raise click.UsageError(f"{description}: expected a JSON object")
    topic_map = _pairs(topics, "--topic")
    config = import_kda_description(
        data, topic_map, application_name=app_name, topics_default_to_names=True
    )
    known = {key for pair in kda_resources(data) for key in pair}
    unused = sorted(set(topic_map) - known)
    if unused:
        raise click.BadParameter(
            f"{', '.join(unused)} not in {description}; it names {', '.join(sorted(known))}",
            param_hint="--topic",
        )
    code_file, config_file = out_dir / "app.sql", out_dir / "application.yaml"
    existing = [f for f in (code_file, config_file) if f.exists()]
    if existing and not force:
        raise click.UsageError(
            f"{', '.join(map(str, existing))} already there: choose another --out or add --force"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    code_file.write_text(config.read_code())
    config_file.write_text(
        f"# Imported from {description.name} by `shardline sql import`.\n"
        + yaml.safe_dump(to_mapping(config), sort_keys=False, allow_unicode=True)
    )
    for arn, name in kda_resources(data):
        click.echo(f"  {arn} → topic {topic_map.get(arn, topic_map.get(name, name))}")
    try:
        _, plan = check_application(out_dir)
    except SqlError as exc:
        code = _code_label(out_dir, config_file, exc)
        click.echo(f"{code}:{exc.line}:{exc.column}: {exc.message}", err=True)
        click.echo(f"{out_dir}: written; `shardline sql check` fails (above)", err=True)
        raise SystemExit(1) from None
    click.echo(f"{out_dir}: written and checked — {len(plan.pumps)} pumps")


@sql_group.command("test")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--input",
    "input_file",
    required=True,
    type=click.File("rb"),
    help="Input rows, one JSON object per line, keyed by column name; an optional ROWTIME "
    "member (epoch ms or 'YYYY-MM-DD HH:MM:SS.fff') is the row's arrival time. - for stdin.",
)
@click.option(
    "--expect",
    type=click.File("rb"),
    help="Expected output (the lines this command prints): exit 1 with a diff on a difference.",
)
@click.option(
    "--reference",
    "references",
    multiple=True,
    metavar="TABLE=FILE",
    help="A reference table's data (its S3 object, in its ReferenceSchema format); repeatable.",
)
@click.option(
    "--stream",
    "streams",
    multiple=True,
    metavar="NAME",
    help="Also print this in-application stream (besides the Outputs); repeatable.",
)
@click.pass_obj
def test_command(
    settings: Settings,
    path: Path,
    input_file: IO[bytes],
    expect: IO[bytes] | None,
    references: tuple[str, ...],
    streams: tuple[str, ...],
) -> None:
    """Run the application at PATH offline over the rows of --input, with no servers.

    The rows go through the engine as in a worker; windows still open at the end of the
    input are closed. Prints each output stream's rows and error_stream's as JSON lines
    {"stream", "ROWTIME", "row"}, or compares them with --expect (rows of a stream with
    the same ROWTIME in any order). See docs/sql.md, "Migrating from KDA".
    """
    from pipelines.sql.application import check_application
    from pipelines.sql.offline import count_by_stream, diff_rows, parse_rows, run_offline

    config_path = _required_config(path)
    try:
        config, _ = check_application(config_path)
    except SqlError as exc:
        code = _code_label(path, config_path, exc)
        click.echo(f"{code}:{exc.line}:{exc.column}: {exc.message}", err=True)
        raise SystemExit(1) from None
    tables = {
        name: Path(file).read_bytes()
        for name, file in _pairs(references, "--reference").items()
    }
    rows = run_offline(config, input_file, settings, references=tables, streams=streams)
    if expect is None:
        for row in rows:
            click.echo(row.as_json().decode())
        return
    differences = diff_rows(rows, parse_rows(expect))
    counts = ", ".join(f"{n} {s}" for s, n in sorted(count_by_stream(rows).items()))
    if differences:
        click.echo("--- expected\n+++ got", err=True)
        for line in differences:
            click.echo(line, err=True)
        raise SystemExit(1)
    click.echo(f"ok: output matches ({counts or 'no rows'})")


COMMANDS.append(sql_group)
