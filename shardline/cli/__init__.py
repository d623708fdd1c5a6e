"""The ``shardline`` command line.

Each subcommand lives in its own module of this package and is registered here:
``stack`` (local servers), ``produce`` (the KPL-like producer), ``run`` (a pipeline
worker), ``sql`` (check/explain KDA applications),
``deliver`` (a delivery worker), ``status`` and ``demo``.
"""

from __future__ import annotations

import logging
import sys

import click

from ground.errors import ShardlineError
from ground.settings import Settings
from schemas import catalog_for, use_catalog

__all__ = ["main"]


class _Group(click.Group):
    """Turns every ShardlineError into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ShardlineError as exc:
            click.echo(f"shardline: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="shardline")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Kinesis Streams, Analytics and Firehose, re-created on Kafka, Faust and connectors."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # botocore's debug log holds request headers and STS answers (temporary secret keys).
    logging.getLogger("botocore").setLevel(max(level, logging.INFO))
    try:
        ctx.obj = Settings.from_env()
        # Schemas named anywhere (AvroSchema, Parquet schema, --kind) are looked up in the
        # user's folder and the schema registry of the settings, then the bundled ones.
        use_catalog(catalog_for(ctx.obj))
    except ShardlineError as exc:
        click.echo(f"shardline: error: {exc}", err=True)
        sys.exit(2)


def _register() -> None:
    from shardline.cli import deliver, demo, produce, run, sql, stack, status

    for module in (stack, produce, run, sql, deliver, status, demo):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
