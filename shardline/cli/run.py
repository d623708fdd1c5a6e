"""``shardline run PIPELINE_DIR``: run a KDA SQL application in a Faust worker
(``shardline.host``)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from ground.clock import wall_ms
from ground.errors import StuckClientError
from ground.settings import Settings
from ground.startup import wait_until_up
from shardline.cli.options import parse_web_port, web_options
from shardline.host import HostApp, run_host

COMMANDS: list[click.Command] = []

#: a worker whose process started again this recently for a stuck client stops instead (a
#: client that gets stuck at once, every time, is not helped by starting again)
RESTART_MIN_INTERVAL_MS = 60_000
#: where a process started again finds when that was (milliseconds since the epoch)
RESTARTED_AT_ENV = "SHARDLINE_RESTARTED_AT_MS"


def start_again(exc: StuckClientError, *, now_ms: int | None = None) -> NoReturn:
    """Replace this process with a new one on the same command line: the only way to free
    a Kafka client whose call never returns (:class:`~ground.errors.StuckClientError`). The
    new worker resumes from the last commit, as after a kill; its process id stays the same,
    so a supervisor sees no exit. Raises ``exc`` when the last start-again was less than
    ``RESTART_MIN_INTERVAL_MS`` ago."""
    now_ms = wall_ms() if now_ms is None else now_ms
    last = os.environ.get(RESTARTED_AT_ENV, "")
    if last.isdigit() and now_ms - int(last) < RESTART_MIN_INTERVAL_MS:
        raise exc
    os.environ[RESTARTED_AT_ENV] = str(now_ms)
    click.echo(f"shardline: {exc}; starting the worker's process again", err=True)
    logging.shutdown()  # flush every handler: the new process image keeps the same files
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


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
    try:
        run_host(host, loglevel=loglevel)
    except StuckClientError as exc:
        start_again(exc)
    if service.stats.past_retention:
        click.echo(
            f"warning: {service.stats.past_retention} results were written with a time older"
            " than their output topic's retention.ms (a CreateTime topic): the broker deletes"
            " them within minutes; see docs/backfill.md",
            err=True,
        )


COMMANDS.append(run_command)
