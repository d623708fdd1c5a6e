"""A Faust agent beside a KDA SQL application, in one worker.

Run it from the repository root (the local stack up, trades in the ``ticker`` topic)::

    shardline produce -n 20000 --rate 500 &
    faust -A examples.faust_agents.app worker -l info --web-port 6066

One process (``shardline.host``) then runs:

1. the SQL application ``ticker_windows/`` — per ticker, 10-second tumbling windows of event
   time — on Shardline's exactly-once runtime (its own confluent-kafka clients, Kafka
   transactions);
2. the Faust agent :func:`report_windows`: it reads the application's
   ``DESTINATION_SQL_STREAM`` with Faust's consumer, ``read_committed`` (only windows of
   committed transactions), and writes one :class:`WindowReport` per window;
3. a delivery of those reports to Elasticsearch, whose document id is the record key (the
   window's own key), so a report the agent sends again after a restart (Faust's agents are
   at-least-once) overwrites itself.

``/health`` and ``/metrics`` answer on 127.0.0.1:6066. The environment variables below
(used by ``tests/integration/test_faust_agents.py``) point it at other topics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import faust

from connectors import DeliveryConfig, build_worker
from ground.settings import Settings
from shardline.host import Document, HostApp

HERE = Path(__file__).resolve().parent
APPLICATION = Path(os.environ.get("TICKER_WINDOWS_APP", HERE / "ticker_windows"))
REPORTS_TOPIC = os.environ.get("TICKER_REPORTS_TOPIC", "ticker-window-reports")
REPORTS_INDEX = os.environ.get("TICKER_REPORTS_INDEX", "ticker-window-reports")
#: The agents' consumer group: not the SQL application's name (its own group).
AGENTS_ID = os.environ.get("TICKER_AGENTS_ID", "ticker-window-reports")
#: A window whose largest change is at least this is a big move.
BIG_MOVE = 2.0

settings = Settings.from_env()
app = HostApp(AGENTS_ID, settings)
windows_sql = app.add_sql_application(APPLICATION)


class WindowReport(Document):
    """One window, as delivered: a plain JSON document (no Faust metadata)."""

    ticker: str
    window_start: str
    trades: int
    average_price: float
    max_change: float
    big_move: bool


reports = app.document_topic(REPORTS_TOPIC, value_type=WindowReport, partitions=4)


def report(row: dict[str, Any]) -> WindowReport:
    return WindowReport(
        ticker=row["TICKER_SYMBOL"],
        window_start=row["WINDOW_START"],
        trades=row["TRADES"],
        average_price=row["TOTAL_PRICE"] / row["TRADES"],
        max_change=row["MAX_CHANGE"],
        big_move=row["MAX_CHANGE"] >= BIG_MOVE,
    )


@app.agent(app.sql_output(windows_sql, "DESTINATION_SQL_STREAM"))
async def report_windows(windows: faust.StreamT[Any]) -> None:
    async for key, row in windows.items():
        await reports.send(key=key, value=report(row))


app.add_delivery(build_worker(
    DeliveryConfig.from_mapping({
        "name": f"{AGENTS_ID}-es",
        "topic": REPORTS_TOPIC,
        "elasticsearch": {"index": REPORTS_INDEX, "document_id": "record_key",
                          "buffering": {"interval_ms": 1_000}},
    }),
    settings,
    metrics=app.delivery_metrics,
))

if __name__ == "__main__":
    app.main()
