"""The AVRO fast path (one fused decode per record) keeps ROWTIME as the running maximum of
the Kafka timestamps and APPROXIMATE_ARRIVAL_TIME as each record's own, like the generic
path, including around error rows and across batches."""

import json
from pathlib import Path

import pytest
import yaml

from ground.settings import Settings
from pipelines.runtime.records import SourceRecord
from pipelines.sql.application import SqlApplication, check_application

SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    RT TIMESTAMP, ARRIVAL TIMESTAMP, TICKER_SYMBOL VARCHAR(8));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ROWTIME AS RT, APPROXIMATE_ARRIVAL_TIME AS ARRIVAL, ticker_symbol
FROM "SOURCE_SQL_STREAM_001";
"""
BASE = 1_700_000_000_000
TIMES = [5_000, 3_000, 7_000, 7_000, 2_000, 9_000, 9_000, 1_000]  # up, down, equal
BAD = {4, 6}  # offsets of records that are not Avro


def _app(tmp_path: Path) -> SqlApplication:
    (tmp_path / "app.sql").write_text(SQL)
    (tmp_path / "application.yaml").write_text(yaml.safe_dump({
        "ApplicationName": "avro-rowtime",
        "ApplicationCode": "app.sql",
        "Inputs": [{"NamePrefix": "SOURCE_SQL_STREAM", "Topic": "in", "InputSchema": {
            "RecordFormat": {"RecordFormatType": "AVRO", "AvroSchema": "ticker"},
            "RecordColumns": [{"Name": "TICKER_SYMBOL", "SqlType": "VARCHAR(8)",
                               "Mapping": "$.ticker_symbol"}]}}],
        "Outputs": [{"Name": "DESTINATION_SQL_STREAM", "Topic": "out",
                     "DestinationSchema": {"RecordFormatType": "JSON"}}],
        "ErrorOutput": {"Topic": "errors", "RecordFormatType": "JSON"},
    }))
    config, plan = check_application(tmp_path)
    return SqlApplication(config, plan, Settings.from_env({}))


def _batches(split: int) -> list[list[SourceRecord]]:
    from schemas import codec_for

    ticker = codec_for("avro", "ticker")
    records = []
    for i, t in enumerate(TIMES):
        raw = b"not avro" if i in BAD else ticker.encode(
            {"ticker_symbol": f"S{i}", "sector": "TECH", "change": 0.0, "price": 1.0,
             "event_time_ms": BASE + t})
        records.append(SourceRecord("in", 0, i, BASE + t, None, raw))
    return [records[:split], records[split:]] if split else [records]


def _run(app: SqlApplication, batches: list[list[SourceRecord]], fast: bool) -> list[tuple]:
    proc = app.processor("in", 0)
    if not fast:
        proc._decoder.prefixed = None  # the generic path: decode_rows + engine.next_rowtime
    assert (proc._decoder.prefixed is not None) == fast
    got = []
    for batch in batches:
        for o in proc.process(batch):
            row = json.loads(o.value)
            if o.topic == "out":
                got.append(("row", row["TICKER_SYMBOL"], row["RT"], row["ARRIVAL"], o.timestamp_ms))
            else:
                got.append(("error", row["SOURCE_OFFSET"], o.timestamp_ms))
    got.append(("engine rowtime", proc._engine.rowtime))
    return got


@pytest.mark.parametrize("split", [0, 3, 5])
def test_fast_path_rowtime_equals_the_generic_path_and_the_running_maximum(
    tmp_path: Path, split: int
) -> None:
    app = _app(tmp_path)
    fast = _run(app, _batches(split), fast=True)
    assert fast == _run(app, _batches(split), fast=False)
    high, want_rowtimes = 0, []
    for t in TIMES:
        high = max(high, t)
        want_rowtimes.append(BASE + high)
    rows = [g for g in fast if g[0] == "row"]
    assert [r[1] for r in rows] == [f"S{i}" for i in range(len(TIMES)) if i not in BAD]
    assert [r[4] for r in rows] == [want_rowtimes[i] for i in range(len(TIMES)) if i not in BAD]
    errors = [g for g in fast if g[0] == "error"]
    assert errors == [("error", i, want_rowtimes[i]) for i in sorted(BAD)]
    assert fast[-1] == ("engine rowtime", BASE + max(TIMES))
