"""An application the planner repartitions, its input rows and DuckDB's results: what
``shardline sql test`` is checked with (``test_offline_repartitioned.py`` and the CLI's test).

The input is keyed by ticker (``PartitionKey``); the pumps group by the sector (with
aggregates of DISTINCT values, and a SELECT DISTINCT over the groups' rows), aggregate the
whole stream (a global TOP_K_ITEMS_TUMBLING) and join on the sector, so each runs behind a
repartition topic. Offline, the rows a stage writes to a repartition topic go on to the stage
that reads it (one partition of each), and the windows still open at the end close stage by
stage. The oracle is DuckDB over the input rows, by KDA's rules: ROWTIME is the running
maximum of the arrival times; an event-time row is late when its window ended at or before
the largest event time before it minus the allowed lateness.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from pipelines.sql.offline import OfflineRow
from tests.duckdb_oracles import sector_oracle
from tests.rows import assert_same_rows
from tests.unit.pipelines.sql.corpus import input_table, ticker_records

__all__ = [
    "OUTPUTS",
    "REPARTITIONED",
    "check",
    "input_lines",
    "oracle",
    "write_app",
]

LATENESS_MS = 3_000
SRC = '"SOURCE_SQL_STREAM_001"'
CODE = f"""
CREATE OR REPLACE STREAM "SECTOR_ROWTIME" (SECTOR VARCHAR(16), WINDOW_START TIMESTAMP,
    TRADES BIGINT, TOTAL_PRICE DOUBLE, MAX_CHANGE REAL, TICKERS BIGINT);
CREATE OR REPLACE PUMP "SECTOR_ROWTIME_PUMP" AS INSERT INTO "SECTOR_ROWTIME"
SELECT STREAM sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND),
       COUNT(*), SUM(price), MAX(change), COUNT(DISTINCT ticker_symbol)
FROM {SRC} GROUP BY sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND);

CREATE OR REPLACE STREAM "SECTOR_DISTINCT" (SECTOR VARCHAR(16), WINDOW_START TIMESTAMP,
    MEAN_PRICE DOUBLE, SPREAD DOUBLE);
CREATE OR REPLACE PUMP "SECTOR_DISTINCT_PUMP" AS INSERT INTO "SECTOR_DISTINCT"
SELECT STREAM sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND),
       AVG(DISTINCT ROUND(price)), STDDEV_SAMP(DISTINCT ROUND(price))
FROM {SRC} GROUP BY sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND);

CREATE OR REPLACE STREAM "WINDOW_KINDS" (WINDOW_START TIMESTAMP, BUSY BOOLEAN);
CREATE OR REPLACE PUMP "WINDOW_KINDS_PUMP" AS INSERT INTO "WINDOW_KINDS"
SELECT STREAM DISTINCT STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND), COUNT(*) > 40
FROM {SRC} GROUP BY sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND);

CREATE OR REPLACE STREAM "SECTOR_EVENT_TIME" (SECTOR VARCHAR(16), WINDOW_START TIMESTAMP,
    TRADES BIGINT, TOTAL_PRICE DOUBLE);
CREATE OR REPLACE PUMP "SECTOR_EVENT_TIME_PUMP" AS INSERT INTO "SECTOR_EVENT_TIME"
SELECT STREAM sector, STEP(event_time BY INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM {SRC} GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);

CREATE OR REPLACE STREAM "TOP_TICKERS" (ITEM VARCHAR(4), ITEM_COUNT BIGINT);
CREATE OR REPLACE PUMP "TOP_PUMP" AS INSERT INTO "TOP_TICKERS"
SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(
    CURSOR(SELECT STREAM * FROM {SRC}), 'TICKER_SYMBOL', 3, 30));

CREATE OR REPLACE STREAM "UPS" (TICKER VARCHAR(4), SECTOR VARCHAR(16), PRICE REAL);
CREATE OR REPLACE STREAM "DOWNS" (TICKER VARCHAR(4), SECTOR VARCHAR(16), PRICE REAL);
CREATE OR REPLACE PUMP "UP_PUMP" AS INSERT INTO "UPS"
SELECT STREAM ticker_symbol, sector, price FROM {SRC} WHERE change > 1;
CREATE OR REPLACE PUMP "DOWN_PUMP" AS INSERT INTO "DOWNS"
SELECT STREAM ticker_symbol, sector, price FROM {SRC} WHERE change < -1;
CREATE OR REPLACE STREAM "SECTOR_SWINGS" (UP_TICKER VARCHAR(4), DOWN_TICKER VARCHAR(4),
    SECTOR VARCHAR(16), UP_PRICE REAL, DOWN_PRICE REAL);
CREATE OR REPLACE PUMP "SWING_PUMP" AS INSERT INTO "SECTOR_SWINGS"
SELECT STREAM u.ticker, d.ticker, u.sector, u.price, d.price
FROM "UPS" AS u JOIN "DOWNS" OVER (RANGE INTERVAL '1' SECOND PRECEDING) AS d
  ON u.sector = d.sector;
"""
OUTPUTS = (
    "SECTOR_ROWTIME", "SECTOR_DISTINCT", "WINDOW_KINDS", "SECTOR_EVENT_TIME", "TOP_TICKERS",
    "SECTOR_SWINGS",
)
COLUMNS = [  # JSON in Kafka; offline, the rows are keyed by the columns' names
    {"Name": "TICKER_SYMBOL", "Mapping": "$.ticker_symbol", "SqlType": "VARCHAR(4)"},
    {"Name": "SECTOR", "Mapping": "$.sector", "SqlType": "VARCHAR(16)"},
    {"Name": "CHANGE", "Mapping": "$.change", "SqlType": "REAL"},
    {"Name": "PRICE", "Mapping": "$.price", "SqlType": "REAL"},
    {"Name": "EVENT_TIME", "Mapping": "$.event_time", "SqlType": "TIMESTAMP"},
]
RECORDS = ticker_records(2_500, seed=29)
#: the pumps behind a repartition, and whether partial aggregates (or rows) cross it
REPARTITIONED = {
    ("SECTOR_ROWTIME_PUMP", True),
    ("SECTOR_DISTINCT_PUMP", True),
    ("WINDOW_KINDS_PUMP$1", True),  # the grouped rows, by sector …
    ("WINDOW_KINDS_PUMP", False),  # … then made distinct by their columns
    ("SECTOR_EVENT_TIME_PUMP", True),
    ("TOP_PUMP", True),
    ("SWING_PUMP", False),
}


def ts_ms(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000 + 0.5)


def write_app(folder: Path) -> Path:
    """The application folder, its input keyed by ticker."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.sql").write_text(CODE)
    (folder / "application.yaml").write_text(yaml.safe_dump({
        "ApplicationName": "offline-rp",
        "ApplicationCode": "app.sql",
        "Inputs": [{"NamePrefix": "SOURCE_SQL_STREAM", "Topic": "ticker",
                    "PartitionKey": ["TICKER_SYMBOL"],
                    "InputSchema": {"RecordFormat": {"RecordFormatType": "JSON"},
                                    "RecordColumns": COLUMNS}}],
        "Outputs": [{"Name": o, "Topic": f"out-{o.lower()}",
                     "DestinationSchema": {"RecordFormatType": "JSON"}} for o in OUTPUTS],
        "ErrorOutput": {"Topic": "errors", "RecordFormatType": "JSON"},
        "EventTime": {"AllowedLatenessMs": LATENESS_MS},
    }))  # fmt: skip
    return folder


def input_lines() -> list[str]:
    """One JSON object per record, its Kafka timestamp as the arrival time."""
    names = [c["Name"] for c in COLUMNS]
    return [
        json.dumps({**dict(zip(names, (*v[:4], int(v[4])), strict=True)), "ROWTIME": ts})
        for ts, v in RECORDS
    ]


def oracle() -> dict[str, list[tuple[Any, ...]]]:
    con = input_table(RECORDS)
    want = sector_oracle(con, lateness_ms=LATENESS_MS, per_partition=False)
    want["TOP_TICKERS"] = [(ws, ticker, c) for ws, _rank, ticker, c in want["TOP_TICKERS"]]
    q = con.execute
    want["SECTOR_DISTINCT"] = q(
        "SELECT sector, rowtime - rowtime % 10000, avg(DISTINCT round(price)), "
        "stddev_samp(DISTINCT round(price)) FROM s GROUP BY ALL").fetchall()  # fmt: skip
    want["WINDOW_KINDS"] = q(
        "SELECT DISTINCT ws, busy FROM (SELECT rowtime - rowtime % 10000 AS ws, "
        "count(*) > 40 AS busy FROM s GROUP BY sector, ws)").fetchall()  # fmt: skip
    return want


def check(out: list[OfflineRow], want: dict[str, list[tuple[Any, ...]]]) -> None:
    """Every output stream and the late rows equal the oracle's."""

    def rows(stream: str) -> list[OfflineRow]:
        return [r for r in out if r.stream == stream]

    got = rows("SECTOR_ROWTIME")
    assert all(ts_ms(r.rowtime) == ts_ms(r.row["WINDOW_START"]) + 10_000 for r in got)
    assert_same_rows(
        [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["TOTAL_PRICE"], v["MAX_CHANGE"],
          v["TICKERS"]) for v in (r.row for r in got)],
        want["SECTOR_ROWTIME"], what="GROUP BY sector on ROWTIME",
    )  # fmt: skip
    assert_same_rows(
        [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["MEAN_PRICE"], v["SPREAD"])
         for v in (r.row for r in rows("SECTOR_DISTINCT"))],
        want["SECTOR_DISTINCT"], what="AVG and STDDEV_SAMP of DISTINCT values per sector",
    )  # fmt: skip
    kinds = rows("WINDOW_KINDS")
    assert all(ts_ms(r.rowtime) == ts_ms(r.row["WINDOW_START"]) + 10_000 for r in kinds)
    assert_same_rows(
        [(ts_ms(r.row["WINDOW_START"]), r.row["BUSY"]) for r in kinds],
        want["WINDOW_KINDS"], what="SELECT DISTINCT over the sectors' windows",
    )  # fmt: skip
    assert_same_rows(
        [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["TOTAL_PRICE"])
         for v in (r.row for r in rows("SECTOR_EVENT_TIME"))],
        want["SECTOR_EVENT_TIME"], what="GROUP BY sector on event time",
    )  # fmt: skip
    errors = rows("error_stream")
    assert {(e.row["ERROR_NAME"], e.row["PUMP_NAME"]) for e in errors} == {
        ("Late_Row", "SECTOR_EVENT_TIME_PUMP")
    }
    late = []
    for e in errors:
        (_, rowtime), _arrival, ticker, _sector, _change, price, (_, event_ms) = json.loads(
            bytes.fromhex(e.row["DATA_ROW"])
        )
        late.append((rowtime, ticker, price, event_ms))
    assert_same_rows(late, want["late"], what="Late_Row errors")
    assert_same_rows(
        # a top-k row's ROWTIME is its window's end
        [(ts_ms(r.rowtime) - 30_000, r.row["ITEM"], r.row["ITEM_COUNT"])
         for r in rows("TOP_TICKERS")],
        want["TOP_TICKERS"], what="TOP_K_ITEMS_TUMBLING",
    )  # fmt: skip
    assert_same_rows(
        [(v["UP_TICKER"], v["DOWN_TICKER"], v["SECTOR"], v["UP_PRICE"], v["DOWN_PRICE"])
         for v in (r.row for r in rows("SECTOR_SWINGS"))],
        want["SECTOR_SWINGS"], what="the join on the sector",
    )  # fmt: skip
    # the data exercises what it should
    assert len(want["late"]) > 5 and len(want["SECTOR_SWINGS"]) > 50
    assert len(want["TOP_TICKERS"]) >= 3 * 5 and len(want["SECTOR_ROWTIME"]) > 5 * 15
    assert len(want["WINDOW_KINDS"]) < len(want["SECTOR_ROWTIME"]) / 2
