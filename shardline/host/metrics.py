"""The host's Prometheus registry: service states, and the SQL runtime's counters.

Delivery metrics are :class:`connectors.PrometheusMetrics` (Firehose's CloudWatch names,
``firehose_*``) registered in the same registry. Added here, read at scrape time:

===========================================================  =================================
``shardline_service_up`` (service, kind)                     1 while the service's loop runs
``shardline_runtime_records_total`` (application)            records processed
``shardline_runtime_outputs_total`` (application)            output records written
``shardline_runtime_commits_total`` (application)            transactions committed
``shardline_runtime_aborts_total`` (application)             transactions aborted
``shardline_runtime_rebalances_total`` (application)         rebalances seen
``shardline_runtime_producer_resets_total`` (application)    transactional producers replaced
``shardline_runtime_restored_keys_total`` (application)      state keys read back from changelogs
===========================================================  =================================

The runtime counters are :class:`~pipelines.runtime.RunStats` of this process's worker (one
per SQL application): integers its thread updates, read without a lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shardline.host.service import LoopService
from shardline.host.sql import SqlService

__all__ = ["RUNTIME_COUNTERS", "HostCollector"]

#: ``RunStats`` field → (metric name without ``_total``, help text)
RUNTIME_COUNTERS: dict[str, tuple[str, str]] = {
    "records": ("shardline_runtime_records", "Records processed by the SQL runtime."),
    "outputs": ("shardline_runtime_outputs", "Output records written in transactions."),
    "commits": ("shardline_runtime_commits", "Kafka transactions committed."),
    "aborts": ("shardline_runtime_aborts", "Kafka transactions aborted (and replayed)."),
    "rebalances": ("shardline_runtime_rebalances", "Consumer group rebalances seen."),
    "producer_resets": ("shardline_runtime_producer_resets",
                        "Transactional producers replaced after a fatal error."),
    "restored_keys": ("shardline_runtime_restored_keys",
                      "State keys read back from changelog topics."),
}


class HostCollector(Collector):
    """Reads the services of a host at scrape time (``services`` returns the current list)."""

    def __init__(self, services: Callable[[], Sequence[LoopService]]) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "shardline_service_up", "1 while the service's loop runs, else 0.",
            labels=["service", "kind"])
        counters = {
            field: CounterMetricFamily(name, text, labels=["application"])
            for field, (name, text) in RUNTIME_COUNTERS.items()
        }
        for service in self.services():
            up.add_metric([service.name, service.kind], 1.0 if service.ready else 0.0)
            if isinstance(service, SqlService):
                stats = service.stats
                for field, family in counters.items():
                    family.add_metric([service.config.application_id], getattr(stats, field))
        yield up
        yield from counters.values()
