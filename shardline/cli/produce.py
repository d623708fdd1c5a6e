"""`shardline produce`: the KPL-like producer of seeded ticker or click-stream records."""

from __future__ import annotations

import sys
import time

import click

from ground.settings import Settings
from schemas import FORMATS
from shardline.producer import (
    COMPRESSIONS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_LINGER_MS,
    DEFAULT_MEAN_STEP_MS,
    KINDS,
    DataSpec,
    ProduceConfig,
    produce,
)
from shardline.producer.producer import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_DELIVERY_TIMEOUT_MS,
    TIMESTAMPS,
)

__all__ = ["COMMANDS", "produce_command"]

DEFAULT_COUNT = 1000
DEFAULT_PARTITIONS = 4


@click.command("produce")
@click.option("--kind", type=click.Choice(KINDS), default="ticker", show_default=True,
              help="Which data to generate.")
@click.option("--topic", help="Topic to write to (default: the kind, e.g. 'ticker').")
@click.option("--count", "-n", type=click.IntRange(min=0),
              help=f"Number of records (default {DEFAULT_COUNT} unless --duration is given).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True),
              help="Produce for this many seconds (with --count: whichever ends first).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--start-ms", type=click.IntRange(min=0),
              help="Event time of the first record, epoch ms (default: now, floored to 1 s).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@click.option("--partitions", type=click.IntRange(min=1), default=DEFAULT_PARTITIONS,
              show_default=True, help="Create the topic with this many partitions if missing.")
@click.option("--key-field", help="Partition key field (default: ticker_symbol / user_id).")
@click.option("--disorder-ms", type=click.IntRange(min=0), default=0, show_default=True,
              help="Bounded out-of-orderness of event times.")
@click.option("--mean-step-ms", type=click.IntRange(min=1), default=DEFAULT_MEAN_STEP_MS,
              show_default=True, help="Mean event-time step between records.")
@click.option("--malformed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Inject this many malformed records at seeded positions.")
@click.option("--linger-ms", type=click.IntRange(min=0), default=DEFAULT_LINGER_MS,
              show_default=True, help="Batching delay (the KPL's RecordMaxBufferedTime).")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
              show_default=True, help="Max bytes per partition batch.")
@click.option("--compression", type=click.Choice(COMPRESSIONS), default="none",
              show_default=True)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True),
              help="Records per second (token bucket); unlimited if not given.")
@click.option("--timestamp", type=click.Choice(TIMESTAMPS), default="produce",
              show_default=True, help="Kafka record timestamp: produce time or event time.")
@click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_CONNECT_TIMEOUT_S, show_default=True,
              help="Seconds to wait for the broker.")
@click.option("--delivery-timeout-ms", type=click.IntRange(min=1),
              default=DEFAULT_DELIVERY_TIMEOUT_MS, show_default=True)
@click.option("--subject", help="With a schema registry: the subject of the Avro schema "
              "(default: <topic>-value).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: when stderr is a terminal and --count is set).")
@click.pass_obj
def produce_command(
    settings: Settings, kind: str, topic: str | None, count: int | None,
    duration: float | None, seed: int, start_ms: int | None, fmt: str, partitions: int,
    key_field: str | None, disorder_ms: int, mean_step_ms: int, malformed: int,
    linger_ms: int, batch_size: int, compression: str, rate: float | None, timestamp: str,
    connect_timeout: float, delivery_timeout_ms: int, subject: str | None,
    progress: bool | None,
) -> None:
    """Produce seeded records, partitioned like Kinesis (MD5 of the partition key).

    Exits 0 when every record was delivered, 1 when some failed (after a summary),
    2 on a configuration error or an unreachable broker.
    """
    if count is None and duration is None:
        count = DEFAULT_COUNT
    if start_ms is None:
        start_ms = int(time.time()) * 1000
    data = DataSpec(start_ms=start_ms, kind=kind, seed=seed, format=fmt,  # type: ignore[arg-type]
                    disorder_ms=disorder_ms, mean_step_ms=mean_step_ms, malformed=malformed,
                    key_field=key_field)
    config = ProduceConfig(
        topic=topic or kind, data=data, count=count,
        duration_ms=int(duration * 1000) if duration is not None else None,
        partitions=partitions, linger_ms=linger_ms, batch_size=batch_size,
        compression=compression, rate_per_s=rate, timestamp=timestamp,
        connect_timeout_s=connect_timeout, delivery_timeout_ms=delivery_timeout_ms,
        subject=subject,
    )
    show = progress if progress is not None else (sys.stderr.isatty() and count is not None)
    if show and count is not None:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(f"producing to {config.topic}", total=count)
            report = produce(settings, config,
                             on_progress=lambda done: bar.update(task, completed=done))
    else:
        report = produce(settings, config)
    click.echo(f"start_ms={start_ms} seed={seed} kind={kind} format={fmt}")
    click.echo(report.summary())
    if not report.ok:
        click.echo(f"shardline: error: {report.failed} of {report.produced} records were not "
                   "delivered", err=True)
        sys.exit(1)


COMMANDS: list[click.Command] = [produce_command]
