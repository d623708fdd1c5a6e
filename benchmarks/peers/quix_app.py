"""The Quix Streams peer: the benchmark's aggregations written as Quix Streams' documentation
recommends (``Application`` → ``app.dataframe(topic)`` → a window → ``.agg(...)``).

Runs in the benchmark's own virtualenv (Quix Streams pins its own confluent-kafka), never in
Shardline's: ``benchmarks/compare.py`` creates it and starts this script with its python::

    <quix venv>/bin/python benchmarks/peers/quix_app.py --workload tumbling \\
        --bootstrap 127.0.0.1:19092 --group G --topic T --out T-out --schema schemas/trade.avsc

Input: the benchmark's Avro trade records (``schemas/trade.avsc``, ~100 bytes) with the 5-byte
Confluent header, keyed by symbol, Kafka timestamp = event time (Quix windows use the message
timestamp); every field is decoded, only ``price`` is aggregated. ``tumbling``: COUNT /
SUM / MIN / MAX of ``price`` per key in 60-s windows, emitted once per window (``.final()``).
``sliding``: the mean ``price`` per key over the last 60 s (``sliding_window(...).current()``,
a result per update, as KDA's ``AVG … OVER (RANGE INTERVAL '1' MINUTE PRECEDING)``).
At-least-once (Quix's default), commit interval 1 s. Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
from typing import Any

import fastavro
import quixstreams.dataframe.windows.aggregations as agg
from quixstreams import Application
from quixstreams.models.serializers import Deserializer


class ConfluentAvro(Deserializer):
    """fastavro over the record after its 5-byte Confluent header (no registry needed)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__()
        self.schema = fastavro.parse_schema(schema)

    def __call__(self, value: bytes, ctx: Any) -> Any:
        return fastavro.schemaless_reader(io.BytesIO(value[5:]), self.schema, None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=["tumbling", "sliding"], required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--state-dir", required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with open(args.schema) as f:
        schema = json.load(f)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_interval=1.0,
        state_dir=args.state_dir,
        loglevel="WARNING",
    )
    source = app.topic(args.topic, key_deserializer="str", value_deserializer=ConfluentAvro(schema))
    sink = app.topic(args.out, key_serializer="str", value_serializer="json")
    sdf = app.dataframe(source)
    if args.workload == "tumbling":
        sdf = (
            sdf.tumbling_window(duration_ms=60_000, grace_ms=5_000)
            .agg(count=agg.Count(), sum=agg.Sum("price"), min=agg.Min("price"),
                 max=agg.Max("price"))
            .final()
        )
    else:
        sdf = sdf.sliding_window(duration_ms=60_000, grace_ms=5_000).agg(
            avg=agg.Mean("price")).current()
    sdf.to_topic(sink)
    app.run()


if __name__ == "__main__":
    main()
