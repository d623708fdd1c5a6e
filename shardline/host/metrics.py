"""The host's Prometheus registry: which services run, and the counters they report.

Delivery metrics are :class:`connectors.PrometheusMetrics` (Firehose's CloudWatch names,
``firehose_*``) registered in the same registry (``HostApp.delivery_metrics``). Added here,
read at scrape time:

* ``shardline_service_up`` (service, kind): 1 while the service's loop runs, else 0;
* each service's :meth:`~shardline.host.service.LoopService.counters`, e.g. the SQL
  runtime's ``shardline_runtime_records_total`` (application), ``…_outputs_total``,
  ``…_commits_total``, ``…_aborts_total``, ``…_rebalances_total``,
  ``…_producer_resets_total``, ``…_restored_keys_total`` (``shardline.host.sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shardline.host.service import LoopService

__all__ = ["HostCollector"]


class HostCollector(Collector):
    """Reads the services of a host at scrape time (``services`` returns the current list)."""

    def __init__(self, services: Callable[[], Sequence[LoopService]]) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "shardline_service_up", "1 while the service's loop runs, else 0.",
            labels=["service", "kind"])
        counters: dict[str, CounterMetricFamily] = {}
        for service in self.services():
            up.add_metric([service.name, service.kind], 1.0 if service.ready else 0.0)
            for name, value in service.counters().items():
                family = counters.get(name)
                if family is None:
                    family = counters[name] = CounterMetricFamily(
                        name, service.COUNTERS[name], labels=[service.COUNTER_LABEL])
                family.add_metric([service.name], value)
        yield up
        yield from counters.values()
