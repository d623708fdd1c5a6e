"""Throughput of the ticker pipeline on the local stack; prints numbers, asserts nothing.

    .venv/bin/python benchmarks/pipeline_throughput.py --records 200000 --partitions 4

Produces a seeded data set, then runs one pipeline worker over it in this process and
prints records/s between the first and the last record processed and the peak resident
memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid

from ground.settings import Settings
from pipelines import PipelineConfig, run_pipeline
from pipelines.decoding import decoder_for
from shardline.producer import DataSpec, ProduceConfig, produce


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--format", choices=["json", "avro"], default="json")
    ap.add_argument("--batch", type=int, default=1_000)
    args = ap.parse_args()

    settings = Settings.from_env()
    run = f"bench-{uuid.uuid4().hex[:8]}"
    report = produce(
        settings,
        ProduceConfig(
            topic=f"{run}.ticker",
            data=DataSpec(start_ms=1_790_000_000_000, seed=1, format=args.format, mean_step_ms=10),
            count=args.records,
            partitions=args.partitions,
            linger_ms=20,
        ),
    )
    rate = report.records_per_s
    print(f"produce: {report.delivered} records in {report.elapsed_s:.1f}s ({rate:,.0f}/s)")
    cfg = PipelineConfig(
        app_id=f"{run}.stats",
        input_topic=f"{run}.ticker",
        output_topic=f"{run}.out",
        error_topic=f"{run}.errors",
        idle_timeout_ms=1_000,
        batch_max_records=args.batch,
    )
    t0 = time.monotonic()
    stats = run_pipeline(cfg, settings, decoder_for("auto", "ticker"), until_idle_s=2.0)
    wall = time.monotonic() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    span = stats.last_record_s - stats.first_record_s
    rate = stats.records / span if span > 0 else 0.0
    print(
        f"pipeline: {stats.records} records, {stats.outputs} outputs, "
        f"{rate:,.0f} records/s (first to last record), {stats.batches} batches, "
        f"{stats.commits} commits, process wall {wall:.1f}s, peak RSS {rss_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
