"""The end-to-end demo: local stack → producer → the ticker-analytics KDA SQL application on
a Faust worker → MinIO and Elasticsearch, then an independent recomputation of every window
(DuckDB) and a summary of what landed.

Every run gets its own topics, consumer groups, S3 prefix and index (named by a run id),
so runs never see each other's data: the application's ``application.yaml`` is deployed
into ``<home>/demo/<run id>/`` with the run's topic names, its SQL unchanged. The
application and the two deliveries run as real worker processes (``shardline run`` /
``shardline deliver``), exactly as a user runs them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from ground.clock import wall_ms
from ground.errors import ShardlineError
from ground.settings import Settings
from pipelines.sql.application import check_application
from shardline.producer import DataSpec, ProduceConfig, ProduceReport, produce
from shardline.verify import (
    WindowComparison,
    compare_windows,
    expected_sql_ticker_windows,
    read_s3_jsonl,
    read_search_index,
    read_topic,
    sql_window_rows,
)

__all__ = ["DemoConfig", "DemoResult", "run_demo"]

#: The example application, in the repository next to this package (a checkout, not a wheel).
APP_DIR = Path(__file__).resolve().parent.parent / "examples" / "applications" / "ticker_analytics"
DEMO_BUCKET = "shardline-demo"
WORKER_TIMEOUT_S = 300
#: The application's windows (app.sql: STEP(EVENT_TIME BY INTERVAL '60' SECOND)).
WINDOW_MS = 60_000
#: The demo closes the last windows after 2 s of silence instead of the app's 65 s.
DEMO_IDLE_TIMEOUT_MS = 2_000


class DemoFailed(ShardlineError):
    """A step of the demo failed; the message says which."""


@dataclass(frozen=True, slots=True)
class DemoConfig:
    records: int = 20_000
    partitions: int = 4
    seed: int = 42
    malformed: int = 5
    mean_step_ms: int = 25
    #: Event times up to this far behind the newest; beyond the application's allowed
    #: lateness (5 s) a record whose window has closed is late: an error row.
    disorder_ms: int = 8_000
    run_id: str = ""
    start_stack: bool = True


@dataclass(slots=True)
class DemoResult:
    run_id: str
    produced: int = 0
    malformed_sent: int = 0
    late_expected: int = 0
    error_records: int = 0
    error_names: dict[str, int] = field(default_factory=dict)
    windows_expected: int = 0
    windows_output: int = 0
    s3_objects: int = 0
    s3_rows: int = 0
    search_docs: int = 0
    checks: dict[str, WindowComparison] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            bool(self.checks)
            and all(c.ok for c in self.checks.values())
            and self.error_records == self.malformed_sent + self.late_expected
            and self.error_names.get("Late_Row", 0) == self.late_expected
            and self.windows_expected > 0
        )


def _shardline(*args: str) -> list[str]:
    return [sys.executable, "-m", "shardline", *args]


def _run_workers(console: Console, commands: dict[str, Sequence[str]]) -> None:
    """Run worker processes side by side; each must exit 0 within the timeout."""
    procs = {
        name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name, cmd in commands.items()
    }
    failed = []
    for name, proc in procs.items():
        try:
            out, _ = proc.communicate(timeout=WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.terminate()  # a process this demo started, by its own handle
            out, _ = proc.communicate(timeout=30)
            failed.append(f"{name} did not finish within {WORKER_TIMEOUT_S}s")
        if proc.returncode != 0:
            tail = "\n".join(out.strip().splitlines()[-15:])
            failed.append(f"{name} exited with {proc.returncode}:\n{tail}")
    if failed:
        raise DemoFailed("; ".join(failed))


def _produce(
    settings: Settings,
    config: DemoConfig,
    topic: str,
    start_ms: int,
    bar: Progress,
    task: TaskID,
) -> ProduceReport:
    return produce(
        settings,
        ProduceConfig(
            topic=topic,
            data=DataSpec(
                start_ms=start_ms,
                kind="ticker",
                seed=config.seed,
                format="avro",  # the application reads Avro (application.yaml)
                mean_step_ms=config.mean_step_ms,
                disorder_ms=config.disorder_ms,
                malformed=config.malformed,
            ),
            count=config.records,
            partitions=config.partitions,
        ),
        on_progress=lambda done: bar.update(task, completed=done),
    )


@dataclass(frozen=True, slots=True)
class Deployment:
    folder: Path
    application: str
    input_topic: str
    output_topic: str
    error_topic: str
    allowed_lateness_ms: int


def deploy_application(settings: Settings, run_id: str) -> Deployment:
    """Write the application's config with this run's names into ``<home>/demo/<run id>/``;
    the SQL stays where it is (``ApplicationCode`` points at it)."""
    if not (APP_DIR / "application.yaml").is_file():
        raise DemoFailed(f"the example application {APP_DIR} is missing: run the demo from a "
                         "Shardline checkout")
    config = yaml.safe_load((APP_DIR / "application.yaml").read_text("utf-8"))
    name = f"{run_id}.{config['ApplicationName']}"
    (source,) = config["Inputs"]
    (output,) = config["Outputs"]
    deployment = Deployment(
        folder=settings.home / "demo" / run_id,
        application=name,
        input_topic=f"{run_id}.{source['Topic']}",
        output_topic=f"{run_id}.{output['Topic']}",
        error_topic=f"{run_id}.{config['ErrorOutput']['Topic']}",
        allowed_lateness_ms=int(config["EventTime"]["AllowedLatenessMs"]),
    )
    config["ApplicationName"] = name
    config["ApplicationCode"] = str((APP_DIR / config["ApplicationCode"]).resolve())
    source["Topic"] = deployment.input_topic
    output["Topic"] = deployment.output_topic
    config["ErrorOutput"]["Topic"] = deployment.error_topic
    config["EventTime"]["IdleTimeoutMs"] = DEMO_IDLE_TIMEOUT_MS
    deployment.folder.mkdir(parents=True, exist_ok=True)
    (deployment.folder / "application.yaml").write_text(
        yaml.safe_dump(config, sort_keys=False), "utf-8"
    )
    check_application(deployment.folder)
    return deployment


def run_demo(settings: Settings, config: DemoConfig, console: Console | None = None) -> DemoResult:
    console = console or Console()
    run_id = config.run_id or time.strftime("demo-%Y%m%d-%H%M%S", time.gmtime())
    result = DemoResult(run_id)
    app = deploy_application(settings, run_id)
    input_topic, output_topic, error_topic = app.input_topic, app.output_topic, app.error_topic
    prefix, index = f"{run_id}/", f"shardline-{run_id}"

    def step(name: str, started: float) -> None:
        result.timings_s[name] = round(time.monotonic() - started, 1)
        console.print(f"[green]✓[/green] {name} ({result.timings_s[name]} s)")

    if config.start_stack:
        from shardline.stack import Stack

        t0 = time.monotonic()
        console.print("[bold]1/5[/bold] local stack: Kafka, MinIO, Elasticsearch, schema registry")
        from shardline.stack import ComponentState, ConsoleReporter

        stack = Stack(settings, reporter=ConsoleReporter(console))
        statuses = stack.status()
        external = [st for st in statuses if st.state is ComponentState.EXTERNAL]
        if external:
            endpoints = ", ".join(st.endpoint for st in external)
            console.print(f"  using the servers already running at {endpoints}")
        if len(external) < len(statuses):  # ours (waited for if starting) and the missing ones
            stack.up([st.name for st in statuses if st.state is not ComponentState.EXTERNAL])
        step("stack up", t0)

    t0 = time.monotonic()
    span_ms = config.records * config.mean_step_ms
    start_ms = (wall_ms() - span_ms) // 1000 * 1000
    console.print(f"[bold]2/5[/bold] producing {config.records:,} ticker records to {input_topic}")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("producing", total=config.records)
        report = _produce(settings, config, input_topic, start_ms, bar, task)
    if not report.ok:
        raise DemoFailed(
            f"producer: {report.failed} of {report.produced} records failed: {dict(report.errors)}"
        )
    result.produced, result.malformed_sent = report.delivered, len(report.malformed)
    step("produce", t0)

    t0 = time.monotonic()
    console.print(
        "[bold]3/5[/bold] KDA SQL application examples/applications/ticker_analytics: per ticker, "
        "60 s tumbling windows in event time"
    )
    console.print(f"  deployed as {app.folder / 'application.yaml'}")
    _run_workers(
        console,
        {"sql-worker": _shardline("run", str(app.folder), "--until-idle", "3")},
    )
    step("pipeline", t0)

    t0 = time.monotonic()
    console.print("[bold]4/5[/bold] delivery: gzip JSON Lines to MinIO, documents to Elasticsearch")
    _run_workers(
        console,
        {
            "delivery-s3": _shardline(
                "deliver", "--name", f"{run_id}-s3", "--topic", output_topic,
                "--s3-bucket", DEMO_BUCKET, "--s3-prefix", prefix, "--ensure-bucket",
                "--interval-ms", "1000",
                "--until-idle", "3",
            ),
            "delivery-search": _shardline(
                "deliver", "--name", f"{run_id}-search", "--topic", output_topic,
                "--es-index", index, "--document-id", "record_key", "--interval-ms", "1000",
                "--es-backup-bucket", DEMO_BUCKET, "--error-prefix", f"{prefix}errors/",
                "--ensure-bucket",  # both deliveries start at once on a fresh MinIO
                "--until-idle", "3",
            ),
        },
    )  # fmt: skip
    step("delivery", t0)

    t0 = time.monotonic()
    console.print("[bold]5/5[/bold] checking against an independent recomputation (DuckDB)")
    inputs = read_topic(settings.kafka, input_topic)
    oracle = expected_sql_ticker_windows(inputs, WINDOW_MS, app.allowed_lateness_ms)
    expected = oracle.windows
    outputs = sql_window_rows(
        (json.loads(r.value) for r in read_topic(settings.kafka, output_topic)),
        WINDOW_MS,
    )
    errors = [json.loads(r.value) for r in read_topic(settings.kafka, error_topic)]
    result.error_records = len(errors)
    result.error_names = dict(Counter(str(e.get("ERROR_NAME")) for e in errors))
    result.late_expected = oracle.late
    if oracle.malformed != result.malformed_sent:
        raise DemoFailed(
            f"the oracle found {oracle.malformed} malformed records, "
            f"the producer sent {result.malformed_sent}"
        )
    result.windows_expected, result.windows_output = len(expected), len(outputs)
    result.s3_objects, s3_rows = asyncio.run(read_s3_jsonl(settings, DEMO_BUCKET, prefix))
    result.s3_rows = len(s3_rows)
    docs = asyncio.run(read_search_index(settings, index))
    result.search_docs = len(docs)
    s3_rows = sql_window_rows(s3_rows, WINDOW_MS)
    docs = sql_window_rows(docs, WINDOW_MS)
    result.checks = {
        "output topic": compare_windows(expected, outputs),
        "MinIO": compare_windows(expected, s3_rows),
        "Elasticsearch": compare_windows(expected, docs),
    }
    step("verify", t0)
    _print_summary(console, result, settings, prefix, index)
    return result


def _print_summary(
    console: Console, r: DemoResult, settings: Settings, prefix: str, index: str
) -> None:
    table = Table(title=f"Shardline demo {r.run_id}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("check")
    ok = "[green]match[/green]"
    table.add_row("records produced", f"{r.produced:,}", "")
    late = r.error_names.get("Late_Row", 0)
    table.add_row(
        "late rows → error_stream (Late_Row)",
        f"{late}",
        ok if late == r.late_expected else f"[red]expected {r.late_expected}[/red]",
    )
    bad = r.error_records - late
    table.add_row(
        "malformed → error_stream",
        f"{bad}",
        ok if bad == r.malformed_sent else f"[red]expected {r.malformed_sent}[/red]",
    )
    table.add_row("windows expected (DuckDB)", f"{r.windows_expected}", "")
    labels = {
        "output topic": ("windows computed", r.windows_output),
        "MinIO": (f"rows in {r.s3_objects} MinIO objects", r.s3_rows),
        "Elasticsearch": ("documents in Elasticsearch", r.search_docs),
    }
    for name, (label, count) in labels.items():
        cmp = r.checks[name]
        table.add_row(label, f"{count}", ok if cmp.ok else f"[red]{cmp.describe()}[/red]")
    console.print(table)
    console.print(f"MinIO: s3://{DEMO_BUCKET}/{prefix}  ({settings.s3_endpoint})")
    console.print(f"Elasticsearch: {settings.search_url}/{index}/_search")
    console.print(
        "[bold green]RESULT: all results match the independent recomputation[/bold green]"
        if r.ok
        else "[bold red]RESULT: MISMATCH[/bold red]"
    )
