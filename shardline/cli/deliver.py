"""`shardline deliver`: run Firehose-style delivery workers (Kafka topic → S3 / Elasticsearch)."""

from __future__ import annotations

import functools
import signal
import threading
import time
from pathlib import Path
from typing import Any

import click

from connectors import (
    DeliveryConfig,
    LoggingMetrics,
    build_worker,
    load_deliveries,
    preflight,
)
from connectors.core import FanoutMetrics, FlushReport, MetricsHook
from ground.errors import ConfigError
from ground.settings import Settings
from ground.startup import wait_until_up
from shardline.cli.options import parse_web_port, web_options
from shardline.host import DeliveryService, HostApp, check_port, run_host

__all__ = ["COMMANDS", "deliver"]


class _EchoMetrics(LoggingMetrics):
    """Logs like LoggingMetrics and prints one line per flush (unless quiet)."""

    def __init__(self, quiet: bool) -> None:
        super().__init__()
        self.quiet = quiet
        self._lock = threading.Lock()

    def on_flush(self, report: FlushReport) -> None:
        with self._lock:
            super().on_flush(report)
        if not self.quiet:
            click.echo(
                f"{report.delivery}: {report.topic}[{report.partition}] "
                f"{report.start_offset}..{report.end_offset} → {report.destination}: "
                f"{report.delivered} records, {report.bytes} bytes, "
                f"{report.backed_up} backed up, {report.retries} retries, "
                f"{report.duration_ms} ms",
                err=True,
            )


def _from_flags(opts: dict[str, Any]) -> list[DeliveryConfig]:
    topic = opts["topic"]
    if not topic:
        raise ConfigError("--topic", "give a CONFIG file or --topic with --s3-bucket/--es-index")
    buffering: dict[str, int] = {}
    if opts["max_records"]:
        buffering["max_records"] = opts["max_records"]
    if opts["interval_ms"] is not None:
        buffering["interval_ms"] = opts["interval_ms"]
    configs: list[DeliveryConfig] = []
    base = opts["name"] or topic
    if opts["s3_bucket"]:
        s3: dict[str, Any] = {"bucket": opts["s3_bucket"], "prefix": opts["s3_prefix"] or "",
                              "buffering": buffering, "ensure_bucket": opts["ensure_bucket"]}
        if opts["error_prefix"]:
            s3["error_output_prefix"] = opts["error_prefix"]
        configs.append(DeliveryConfig.from_mapping(
            {"name": f"{base}-s3", "topic": topic, "group": opts["group"] or None, "s3": s3}))
    if opts["es_index"]:
        es: dict[str, Any] = {"index": opts["es_index"], "document_id": opts["document_id"],
                              "buffering": buffering}
        if opts["document_id_field"]:
            es["document_id_field"] = opts["document_id_field"]
        backup_bucket = opts["es_backup_bucket"] or opts["s3_bucket"]
        if backup_bucket:
            es["s3_backup"] = {"bucket": backup_bucket, "ensure_bucket": opts["ensure_bucket"]}
        group = f"{opts['group']}-es" if opts["group"] and opts["s3_bucket"] else opts["group"]
        configs.append(DeliveryConfig.from_mapping(
            {"name": f"{base}-es", "topic": topic, "group": group or None, "elasticsearch": es}))
    if not configs:
        raise ConfigError("--s3-bucket", "give --s3-bucket and/or --es-index")
    return configs


@click.command("deliver")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--topic", help="Source topic (without CONFIG).")
@click.option("--name", help="Delivery stream name (default: the topic).")
@click.option("--group", help="Consumer group (default: shardline-deliver-<name>).")
@click.option("--s3-bucket", help="Deliver to this S3/MinIO bucket.")
@click.option("--s3-prefix", help="Object key prefix.")
@click.option("--error-prefix", help="S3 prefix for records S3 refused for good.")
@click.option("--es-index", help="Deliver to this Elasticsearch/OpenSearch index.")
@click.option("--es-backup-bucket", help="Bucket for failed documents (default: --s3-bucket).")
@click.option("--document-id", type=click.Choice(["offset", "record_key", "field", "none"]),
              default="offset")
@click.option("--document-id-field", metavar="FIELD",
              help="With --document-id field: the top-level JSON field holding the id.")
@click.option("--max-records", type=int, help="Flush a partition's buffer at this many records.")
@click.option("--interval-ms", type=int, help="Flush a partition's buffer after this long.")
@click.option("--ensure-bucket", is_flag=True, help="Create missing buckets.")
@click.option("--until-idle", type=float, metavar="SECONDS",
              help="Exit once the topic was idle this long and everything is delivered.")
@click.option("--shutdown-timeout", type=float, metavar="SECONDS",
              help="On SIGTERM/SIGINT, flush for at most this long; what is not delivered by "
                   "then stays uncommitted (default: each delivery's shutdown_timeout, 30 s).")
@click.option("-q", "--quiet", is_flag=True, help="No per-flush lines.")
@web_options
@click.pass_obj
def deliver(settings: Settings, config: Path | None, **opts: Any) -> None:
    """Deliver a topic to S3/MinIO and/or Elasticsearch until SIGINT/SIGTERM or idle.

    CONFIG is a YAML, TOML or JSON file with one delivery or a `deliveries:` list, in
    Shardline's layout or in Firehose's (CreateDeliveryStream input, or describe-delivery-stream
    output; see docs/delivery.md); endpoints and credentials come from the SHARDLINE_*
    environment. Offsets are committed only after the
    destination confirmed the write. While Kafka, S3 or the search cluster is unreachable
    or answers 5xx at start-up, it waits for them (SHARDLINE_STARTUP_WAIT_MS, 120000).
    """
    port = parse_web_port(opts["web_port"], "--metrics-port")
    configs = load_deliveries(config) if config is not None else _from_flags(opts)
    for cfg in configs:  # a server down or answering 5xx is waited for; the rest fails now
        wait_until_up(functools.partial(preflight, cfg, settings), settings.startup_wait)
    if port is not None:  # before anything starts, as a one-line error
        check_port(opts["web_host"], port, "--metrics-port")
    shutdown_ms: int | None = None
    if opts["shutdown_timeout"] is not None:
        if not 0 <= opts["shutdown_timeout"] <= 3600:
            raise ConfigError("--shutdown-timeout", "give 0 to 3600 seconds")
        shutdown_ms = int(opts["shutdown_timeout"] * 1000)
    host = HostApp(f"shardline-deliver-{configs[0].name}", settings, web_port=port,
                   web_host=opts["web_host"])
    metrics = _EchoMetrics(opts["quiet"])
    hook: MetricsHook = metrics
    if port is not None:
        hook = FanoutMetrics(metrics, host.delivery_metrics)
    until_idle_ms = int(opts["until_idle"] * 1000) if opts["until_idle"] is not None else None
    services = [
        host.add_delivery(
            build_worker(cfg, settings, metrics=hook, shutdown_timeout_ms=shutdown_ms),
            until_idle_ms=until_idle_ms,
        )
        for cfg in configs
    ]
    if port is not None:
        click.echo(f"metrics at http://{opts['web_host']}:{port}/metrics "
                   "(health at /health)", err=True)

    def on_signal(signum: signal.Signals) -> None:
        again = " (a second ^C aborts)" if signum is signal.SIGINT else ""
        click.echo(f"shardline: {signum.name}: stopped consuming; flushing and committing what "
                   f"is delivered…{again}", err=True)

    started = time.monotonic()
    try:
        run_host(host, on_signal=on_signal, web_setting="--metrics-port")
    finally:
        _summary(services, metrics, time.monotonic() - started)


def _summary(services: list[DeliveryService], metrics: _EchoMetrics, elapsed: float) -> None:
    abandoned = sum(s.worker.abandoned for s in services)
    if abandoned:
        click.echo(f"shutdown timeout: {abandoned} record(s) not delivered in time were left "
                   "uncommitted (the next run re-reads them)", err=True)
    click.echo(
        f"delivered {metrics.records} records ({metrics.bytes} bytes) in {metrics.flushes} "
        f"flushes, {metrics.backed_up} backed up, {metrics.retries} retries, {elapsed:.1f}s",
        err=True,
    )


COMMANDS: list[click.Command] = [deliver]
