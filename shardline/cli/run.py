"""``shardline run PIPELINE_DIR``: run a pipeline in a Faust worker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ground.settings import Settings

if TYPE_CHECKING:  # the runtime (and Faust) load only when a pipeline runs
    from pipelines.runtime import RunStats

COMMANDS: list[click.Command] = []


@click.command("run")
@click.argument("pipeline_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--app-id", help="Override app_id (also the consumer group).")
@click.option("--input-topic", help="Override input_topic.")
@click.option("--output-topic", help="Override output_topic.")
@click.option("--error-topic", help="Override error_topic.")
@click.option("--idle-timeout-ms", type=int, help="Override idle_timeout_ms.")
@click.option("--grace-ms", type=int, help="Override grace_ms.")
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
    """Run the pipeline in PIPELINE_DIR until stopped.

    A KDA SQL application (application.yaml + app.sql) or a windowed pipeline
    (pipeline.yaml) runs on the exactly-once runtime in a Faust worker. For a SQL
    application --app-id sets ApplicationName, --grace-ms EventTime.AllowedLatenessMs.
    """
    if any(
        (pipeline_dir / n).is_file()
        for n in ("application.yaml", "application.yml", "application.json")
    ):
        from pipelines.runtime import run_worker
        from pipelines.sql.application import load_sql_application

        for flag, name in (("--input-topic", "input_topic"), ("--output-topic", "output_topic")):
            if overrides.get(name) is not None:
                raise click.UsageError(
                    f"{flag} applies to pipeline.yaml pipelines; a SQL application names its "
                    "topics under Inputs and Outputs in application.yaml"
                )
        app = load_sql_application(
            pipeline_dir,
            settings,
            application_name=overrides.get("app_id"),
            error_topic=overrides.get("error_topic"),
            idle_timeout_ms=overrides.get("idle_timeout_ms"),
            allowed_lateness_ms=overrides.get("grace_ms"),
        )
        app.preflight()
        stats = run_worker(
            app.runtime_config(instance_id=instance_id),
            settings,
            app.processor,
            loglevel=loglevel,
            until_idle_ms=None if until_idle is None else int(until_idle * 1000),
        )
        _report_past_retention(stats)
        return
    from pipelines import load_pipeline_config, run_pipeline
    from pipelines.decoding import decoder_for

    config = load_pipeline_config(pipeline_dir, overrides)
    stats = run_pipeline(
        config,
        settings,
        decoder_for(config.input_format, config.schema),
        until_idle_s=until_idle,
        instance_id=instance_id,
        loglevel=loglevel,
    )
    _report_past_retention(stats)


def _report_past_retention(stats: RunStats) -> None:
    if stats.past_retention:
        click.echo(
            f"warning: {stats.past_retention} results were written with a time older than"
            " their output topic's retention.ms (a CreateTime topic): the broker deletes them"
            " within minutes; see docs/backfill.md",
            err=True,
        )


COMMANDS.append(run_command)
