"""The host's registry: service states, a SQL runtime's counters, the delivery metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ground.settings import Settings
from shardline.host import HostApp
from tests.unit.shardline.host.fakes import sql_service


def test_sql_runtime_counters_are_exported(settings: Settings) -> None:
    app = HostApp("host-test", settings)
    sql = app.add_service(sql_service(settings, "ticks"))
    sql.stats.records, sql.stats.commits, sql.stats.aborts = 1_234, 5, 1
    text = app_metrics(app)
    assert text[("shardline_runtime_records_total", (("application", "ticks"),))] == 1_234
    assert text[("shardline_runtime_commits_total", (("application", "ticks"),))] == 5
    assert text[("shardline_runtime_aborts_total", (("application", "ticks"),))] == 1
    assert text[("shardline_service_up", (("kind", "sql"), ("service", "ticks")))] == 0
    # the delivery metrics join the same registry
    app.delivery_metrics.on_incoming("d", "t", 0, 3, 30)
    assert app_metrics(app)[("firehose_incoming_records_total",
                             (("delivery_stream", "d"), ("partition", "0"), ("topic", "t")))] == 3


def app_metrics(app: HostApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client import generate_latest

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(generate_latest(app.registry).decode())
            for s in f.samples}
