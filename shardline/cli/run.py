"""``shardline run PIPELINE_DIR``: run a pipeline in a Faust worker."""

from __future__ import annotations

from pathlib import Path

import click

from shardline.settings import Settings

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
@click.option("--instance-id", help="SQL applications: a stable worker id (transactional id).")
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

    A KDA SQL application (application.yaml + app.sql) runs on the exactly-once runtime in a
    Faust worker; a windowed pipeline (pipeline.yaml) on the older Faust agent.
    """
    if any(
        (pipeline_dir / n).is_file()
        for n in ("application.yaml", "application.yml", "application.json")
    ):
        from pipelines.runtime import run_worker
        from pipelines.sql.application import load_sql_application

        app = load_sql_application(pipeline_dir, settings)
        run_worker(
            app.runtime_config(instance_id=instance_id), settings, app.processor, loglevel=loglevel
        )
        return
    from pipelines import load_pipeline_config, run_pipeline
    from pipelines.decoding import decoder_for

    config = load_pipeline_config(pipeline_dir, overrides)
    run_pipeline(
        config,
        settings.kafka_bootstrap,
        decoder_for(config.input_format, config.schema),
        until_idle_s=until_idle,
        loglevel=loglevel,
    )


COMMANDS.append(run_command)
