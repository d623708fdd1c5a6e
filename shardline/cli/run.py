"""``shardline run PIPELINE_DIR``: run a KDA SQL application in a Faust worker
(``shardline.host``)."""

from __future__ import annotations

from pathlib import Path

import click

from ground.settings import Settings
from ground.startup import wait_until_up
from shardline.cli.options import parse_web_port, web_options
from shardline.host import HostApp, run_host

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
@web_options
@click.pass_obj
def run_command(
    settings: Settings,
    pipeline_dir: Path,
    until_idle: float | None,
    instance_id: str | None,
    loglevel: str,
    web_port: int,
    web_host: str,
    **overrides: object,
) -> None:
    """Run the KDA SQL application in PIPELINE_DIR until stopped.

    The folder holds application.yaml and app.sql (or PIPELINE_DIR is an
    `aws kinesisanalytics create-application --cli-input-json` file); the application runs on
    the exactly-once runtime in a Faust worker,
    which serves /health and /metrics with --web-port.
    """
    from pipelines.sql.application import load_sql_application

    port = parse_web_port(web_port, "--web-port")
    app = load_sql_application(
        pipeline_dir,
        settings,
        application_name=overrides.get("app_id"),
        error_topic=overrides.get("error_topic"),
        idle_timeout_ms=overrides.get("idle_timeout_ms"),
        allowed_lateness_ms=overrides.get("grace_ms"),
    )
    # the inputs exist; their partition counts size the repartition topics. A broker that
    # is down is waited for (SHARDLINE_STARTUP_WAIT_MS); a missing topic fails now.
    wait_until_up(app.preflight, settings.startup_wait)
    host = HostApp(app.config.application_name, settings, web_port=port, web_host=web_host)
    service = host.add_sql_application(
        app,
        instance_id=instance_id,
        until_idle_ms=None if until_idle is None else int(until_idle * 1000),
    )
    if port is not None:
        click.echo(f"health at http://{web_host}:{port}/health, metrics at /metrics", err=True)
    run_host(host, loglevel=loglevel)
    if service.stats.past_retention:
        click.echo(
            f"warning: {service.stats.past_retention} results were written with a time older"
            " than their output topic's retention.ms (a CreateTime topic): the broker deletes"
            " them within minutes; see docs/backfill.md",
            err=True,
        )


COMMANDS.append(run_command)
