"""Firehose's CloudWatch delivery metrics as Prometheus metrics, in a registry of their own.

=======================================================  =======================================
Prometheus (labels)                                      Firehose (AWS/Firehose)
=======================================================  =======================================
``firehose_incoming_records_total`` (s, t, p)            ``IncomingRecords``
``firehose_incoming_bytes_total`` (s, t, p)              ``IncomingBytes``
``firehose_delivery_records_total`` (s, d, t, p)         ``DeliveryToS3.Records``,
                                                         ``DeliveryToElasticsearch.Records``
``firehose_delivery_bytes_total`` (s, d, t, p)           ``DeliveryTo….Bytes``
``firehose_delivery_objects_total`` (s, d, t, p)         ``DeliveryToS3.ObjectCount``
``firehose_delivery_requests_total`` (s, d, t, p)        ``DeliveryToS3.Success`` =
                                                         objects / requests
``firehose_delivery_attempted_records_total`` (s,d,t,p)  ``DeliveryToElasticsearch.Success`` =
                                                         records / attempted records
``firehose_delivery_data_freshness_seconds`` (s,d,t,p)   ``DeliveryTo….DataFreshness``
``firehose_backup_records_total`` (s, d, t, p)           ``BackupToS3.Records``
``firehose_backup_bytes_total`` (s, d, t, p)             ``BackupToS3.Bytes``
``firehose_backup_objects_total`` / ``…requests_total``  ``BackupToS3.Success``
``firehose_backup_data_freshness_seconds`` (s,d,t,p)     ``BackupToS3.DataFreshness``
``firehose_execute_processing_duration_seconds`` (s, d)  ``ExecuteProcessing.Duration``
``firehose_execute_processing_total`` (s, d, outcome)    ``ExecuteProcessing.Success``
``firehose_partition_count`` (s)                         ``PartitionCount``
``firehose_committed_offset`` (s, t, p)                  (Kafka: the group's committed offset)
=======================================================  =======================================

Labels: ``delivery_stream`` (s), ``destination`` (d: the destination's name, e.g.
``s3://bucket`` or ``elasticsearch/index``), ``topic`` (t), ``partition`` (p).

*Success* is exported as a pair of counters, not as a ratio gauge: a ratio of the last flush
says nothing about the others, ratios cannot be summed over partitions or workers, and a
scrape that misses a flush would lose it. With counters, ``rate(objects) / rate(requests)``
over any window is exactly Firehose's "successful puts over all puts" for that period.

*ExecuteProcessing* is Firehose's transformation function: with a processing hook
(:mod:`connectors.transform`) it times the hook's calls per batch and counts as failed those
where an invocation raised, timed out or answered outside the contract; without one it
measures the nearest step, the destination's ``encode`` (records → object body or bulk
request). *PartitionCount* is the active dynamic partitions with dynamic partitioning (the
Kafka partitions held otherwise); ``firehose_partition_count_exceeded_total``
(PartitionCountExceeded) counts records sent to the error output for the limit.

*DataFreshness* is computed at scrape time: now (the injectable ``clock``, epoch ms) minus the
Kafka timestamp of the oldest record consumed and not yet delivered, per partition; 0 when
nothing is pending. Records still in Kafka, not yet consumed, are not seen here — that is the
consumer group's lag (``shardline status``). A record refused for good stays pending until its
backup is written, so the backup's freshness is the same age, under the backup's name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from connectors.core.metrics import FlushReport, PendingSource
from ground.clock import Clock, wall_ms

__all__ = ["PrometheusMetrics"]


PROCESSING_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class PrometheusMetrics:
    """The :class:`~connectors.core.metrics.MetricsHook` for Prometheus.

    Owns its :class:`CollectorRegistry` (never the global one) unless given one, so several
    workers or tests in one process do not collide; the process host serves the registry at
    ``/metrics`` (``shardline.host``). Thread-safe: flushes of several deliveries (each in
    its own thread) and scrapes may interleave.
    """

    def __init__(
        self, *, registry: CollectorRegistry | None = None, clock: Clock = wall_ms
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.clock = clock
        self._sources: dict[str, PendingSource] = {}
        self._lock = threading.Lock()
        r = self.registry
        stp = ["delivery_stream", "topic", "partition"]
        sdtp = ["delivery_stream", "destination", "topic", "partition"]
        self.incoming_records = Counter(
            "firehose_incoming_records", "IncomingRecords: records consumed from the topic.",
            stp, registry=r)
        self.incoming_bytes = Counter(
            "firehose_incoming_bytes", "IncomingBytes: bytes (record values) consumed.",
            stp, registry=r)
        self.delivery_records = Counter(
            "firehose_delivery_records",
            "DeliveryToS3.Records / DeliveryToElasticsearch.Records: records the destination"
            " confirmed.", sdtp, registry=r)
        self.delivery_bytes = Counter(
            "firehose_delivery_bytes",
            "DeliveryToS3.Bytes / DeliveryToElasticsearch.Bytes: bytes (record values) the"
            " destination confirmed.", sdtp, registry=r)
        self.delivery_objects = Counter(
            "firehose_delivery_objects",
            "DeliveryToS3.ObjectCount: objects written (Elasticsearch: bulk requests that"
            " indexed documents). DeliveryToS3.Success = rate(this) /"
            " rate(firehose_delivery_requests_total).", sdtp, registry=r)
        self.delivery_requests = Counter(
            "firehose_delivery_requests",
            "Requests sent to the destination, retries included (the denominator of"
            " DeliveryToS3.Success).", sdtp, registry=r)
        self.delivery_attempted_records = Counter(
            "firehose_delivery_attempted_records",
            "Records sent to the destination over all attempts; DeliveryToElasticsearch.Success"
            " = rate(firehose_delivery_records_total) / rate(this).", sdtp, registry=r)
        self.backup_records = Counter(
            "firehose_backup_records",
            "BackupToS3.Records: records refused for good and written to the backup.",
            sdtp, registry=r)
        self.backup_bytes = Counter(
            "firehose_backup_bytes", "BackupToS3.Bytes: bytes written to the backup.",
            sdtp, registry=r)
        self.backup_objects = Counter(
            "firehose_backup_objects",
            "Objects written to the backup; BackupToS3.Success = rate(this) /"
            " rate(firehose_backup_requests_total).", sdtp, registry=r)
        self.backup_requests = Counter(
            "firehose_backup_requests", "Requests sent to the backup, retries included.",
            sdtp, registry=r)
        self.processing_duration = Histogram(
            "firehose_execute_processing_duration_seconds",
            "ExecuteProcessing.Duration: time to encode a batch into a request.",
            ["delivery_stream", "destination"], buckets=PROCESSING_BUCKETS_S, registry=r)
        self.processing = Counter(
            "firehose_execute_processing",
            "ExecuteProcessing.Success = rate(outcome=\"success\") / rate(all): encode calls.",
            ["delivery_stream", "destination", "outcome"], registry=r)
        self.committed_offset = Gauge(
            "firehose_committed_offset",
            "The consumer group's committed offset (last delivered + 1), committed by this"
            " worker.", ["delivery_stream", "topic", "partition"], registry=r)
        r.register(_PendingCollector(self))

    # -- MetricsHook ---------------------------------------------------------------------

    def track(self, source: PendingSource) -> None:
        with self._lock:
            self._sources[source.name] = source

    def on_incoming(
        self, delivery: str, topic: str, partition: int, records: int, bytes_: int
    ) -> None:
        labels = (delivery, topic, str(partition))
        self.incoming_records.labels(*labels).inc(records)
        self.incoming_bytes.labels(*labels).inc(bytes_)

    def on_processing(
        self, delivery: str, destination: str, seconds: float, succeeded: bool
    ) -> None:
        self.processing_duration.labels(delivery, destination).observe(seconds)
        self.processing.labels(delivery, destination, "success" if succeeded else "failure").inc()

    def on_flush(self, report: FlushReport) -> None:
        labels = (report.delivery, report.destination, report.topic, str(report.partition))
        self.delivery_records.labels(*labels).inc(report.delivered)
        self.delivery_bytes.labels(*labels).inc(report.delivered_bytes)
        self.delivery_objects.labels(*labels).inc(report.writes)
        self.delivery_requests.labels(*labels).inc(report.attempts)
        self.delivery_attempted_records.labels(*labels).inc(report.attempted_records)
        if report.backup_destination is not None:
            b = (report.delivery, report.backup_destination, report.topic, str(report.partition))
            self.backup_records.labels(*b).inc(report.backed_up)
            self.backup_bytes.labels(*b).inc(report.backed_up_bytes)
            self.backup_objects.labels(*b).inc(report.backup_writes)
            self.backup_requests.labels(*b).inc(report.backup_attempts)

    def on_commit(self, delivery: str, topic: str, partition: int, offset: int) -> None:
        self.committed_offset.labels(delivery, topic, str(partition)).set(offset)

    # -- read at scrape time ---------------------------------------------------------------

    def sources(self) -> list[PendingSource]:
        with self._lock:
            return list(self._sources.values())


class _PendingCollector(Collector):
    """DataFreshness (per partition) and PartitionCount, read from the cores at scrape time."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = self._families()
        now = self.metrics.clock()
        delivery, backup, partitions, exceeded = families
        for source in self.metrics.sources():
            pending = source.oldest_pending_ms()
            partitions.add_metric([source.name], source.partition_count())
            exceeded.add_metric([source.name], source.partition_count_exceeded())
            for (topic, partition), oldest in sorted(pending.items()):
                age_s = 0.0 if oldest is None else max(0, now - oldest) / 1000
                delivery.add_metric(
                    [source.name, source.destination_name, topic, str(partition)], age_s)
                if source.backup_name is not None:
                    backup.add_metric(
                        [source.name, source.backup_name, topic, str(partition)], age_s)
        yield from families

    @staticmethod
    def _families(
    ) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        sdtp = ["delivery_stream", "destination", "topic", "partition"]
        return (
            GaugeMetricFamily(
                "firehose_delivery_data_freshness_seconds",
                "DeliveryToS3.DataFreshness / DeliveryToElasticsearch.DataFreshness: age of the"
                " oldest record consumed and not yet delivered (Kafka timestamp).",
                labels=sdtp),
            GaugeMetricFamily(
                "firehose_backup_data_freshness_seconds",
                "BackupToS3.DataFreshness: age of the oldest record not yet delivered or"
                " backed up (Kafka timestamp).",
                labels=sdtp),
            GaugeMetricFamily(
                "firehose_partition_count",
                "PartitionCount: active dynamic partitions (with dynamic partitioning), else"
                " the Kafka partitions with state in the delivery.",
                labels=["delivery_stream"]),
            GaugeMetricFamily(
                "firehose_partition_count_exceeded_total",
                "PartitionCountExceeded: records sent to the error output because they would"
                " have opened a partition over the active-partition limit.",
                labels=["delivery_stream"]),
        )
