"""/metrics over HTTP: the exposition text parses back to the numbers the core produced."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.core import (
    BufferingHints,
    DeliveryCore,
    MetricsServer,
    PrometheusMetrics,
    RetryOptions,
)
from tests.unit.connectors.helpers import ManualClock, MemoryDestination, no_sleep, rec

T0 = 1_700_000_000_000


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def fed_metrics(wall: ManualClock) -> tuple[PrometheusMetrics, list]:
    metrics = PrometheusMetrics(clock=wall)
    core = DeliveryCore("ticks-s3", MemoryDestination(name="s3://ticks"),
                        hints=BufferingHints(max_records=3, interval_ms=1_000),
                        retry=RetryOptions(max_attempts=2), clock=ManualClock(), sleep=no_sleep,
                        metrics=metrics)
    inputs = [rec(o, b"z" * (o + 5), ts=T0 + o) for o in range(5)]
    for r in inputs:
        core.add(r)
    asyncio.run(core.flush(core.due()))  # offsets 0..2 delivered, 3..4 still buffered
    return metrics, inputs


def test_scrape_parses_back_to_the_same_numbers() -> None:
    wall = ManualClock(T0 + 7_000)
    metrics, inputs = fed_metrics(wall)

    async def scrape() -> tuple[int, str, str, int]:
        server = MetricsServer(metrics.registry, port=0)
        port = await server.start()
        try:
            assert server.host == "127.0.0.1" and port > 0
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    body, ctype = await resp.text(), resp.headers["Content-Type"]
                async with session.get(f"http://127.0.0.1:{port}/other") as missing:
                    return resp.status, body, ctype, missing.status
        finally:
            await server.stop()

    status, body, ctype, missing = asyncio.run(scrape())
    assert status == 200 and missing == 404 and ctype.startswith("text/plain")
    got = samples(body)
    part = (("delivery_stream", "ticks-s3"), ("partition", "0"), ("topic", "t"))
    dest = tuple(sorted(part + (("destination", "s3://ticks"),)))
    assert got[("firehose_incoming_records_total", part)] == len(inputs)
    assert got[("firehose_incoming_bytes_total", part)] == sum(len(r.value) for r in inputs)
    assert got[("firehose_delivery_records_total", dest)] == 3
    assert got[("firehose_delivery_bytes_total", dest)] == sum(len(r.value) for r in inputs[:3])
    assert got[("firehose_delivery_objects_total", dest)] == 1
    assert got[("firehose_delivery_data_freshness_seconds", dest)] == pytest.approx(
        (wall.now - inputs[3].timestamp_ms) / 1000)
    assert got[("firehose_partition_count", (("delivery_stream", "ticks-s3"),))] == 1
    # the HELP text names the Firehose metric
    assert "DeliveryToS3.ObjectCount" in body and "IncomingRecords" in body


def test_served_from_its_own_thread_while_the_caller_blocks() -> None:
    metrics, inputs = fed_metrics(ManualClock(T0))
    server = MetricsServer(metrics.registry, port=0)
    port = server.start_in_thread()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            got = samples(resp.read().decode())
        part = (("delivery_stream", "ticks-s3"), ("partition", "0"), ("topic", "t"))
        assert got[("firehose_incoming_records_total", part)] == len(inputs)
        # a second server on the same port fails to start, and says so
        with pytest.raises(OSError):
            MetricsServer(metrics.registry, port=port).start_in_thread()
    finally:
        server.stop_thread()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
