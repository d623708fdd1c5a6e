"""``shardline run PIPELINE_DIR``: run a KDA SQL application in a Faust worker."""

from __future__ import annotations

from pathlib import Path

import click

from ground.settings import Settings

COMMANDS: list[click.Command] = []


@click.command("run")
@click.argument("pipeline_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--app-id", help="Override ApplicationName (also the consumer group).")
@click.option("--error-topic", help="Override ErrorOutput.Topic.")
@click.option("--idle-timeout-ms", type=int, help="Override EventTime.IdleTimeoutMs.")
@click.option("--grace-ms", type=int, help="Override EventTime.AllowedLatenessMs.")
@click.option(
    "--until-idle",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Exit once every window is emitted and the input was quiet this long.",
)
@click.option("--instance-id", help="A stable worker id (its transactional id).")
@click.option(
    "--loglevel", type=click.Choice(["crit", "error", "warn", "info", "debug"]), default="warn"
)
@click.pass_obj
def run_command(
    settings: Settings,
    pipeline_dir: Path,
    until_idle: float | None,
    instance_id: str | None,
    loglevel: str,
    **overrides: object,
) -> None:
    """Run the KDA SQL application in PIPELINE_DIR until stopped.

    The folder holds application.yaml and app.sql; the application runs on the exactly-once
    runtime in a Faust worker.
    """
    from pipelines.runtime import run_worker
    from pipelines.sql.application import load_sql_application

    app = load_sql_application(
        pipeline_dir,
        settings,
        application_name=overrides.get("app_id"),
        error_topic=overrides.get("error_topic"),
        idle_timeout_ms=overrides.get("idle_timeout_ms"),
        allowed_lateness_ms=overrides.get("grace_ms"),
    )
    app.preflight()  # the inputs exist; their partition counts size the repartition topics
    stats = run_worker(
        app.runtime_config(instance_id=instance_id),
        settings,
        app.processor,
        loglevel=loglevel,
        until_idle_ms=None if until_idle is None else int(until_idle * 1000),
    )
    if stats.past_retention:
        click.echo(
            f"warning: {stats.past_retention} results were written with a time older than"
            " their output topic's retention.ms (a CreateTime topic): the broker deletes them"
            " within minutes; see docs/backfill.md",
            err=True,
        )


COMMANDS.append(run_command)
