"""SOURCE_OFFSET of error rows: the input record's offset whenever the failing row is one
record's, -1 when no one record made it (a row of an in-application stream, a window's
result).

The records of a batch give other than one row each here — a record that is not JSON gives
none, a JSON array several — so the offsets are found by the records, not by counting rows.
"""

import json
from pathlib import Path

import pytest
import yaml

from ground.settings import Settings
from pipelines.runtime.records import SourceRecord
from pipelines.sql.application import SqlApplication, check_application

SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (TICKER VARCHAR(4), PER_CHANGE DOUBLE);
CREATE OR REPLACE PUMP "DIRECT_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, price / change FROM "SOURCE_SQL_STREAM_001";

CREATE OR REPLACE STREAM "COPY_STREAM" (TICKER VARCHAR(4), PRICE REAL, CHANGE REAL);
CREATE OR REPLACE PUMP "COPY_PUMP" AS INSERT INTO "COPY_STREAM"
SELECT STREAM ticker_symbol, price, change FROM "SOURCE_SQL_STREAM_001";

CREATE OR REPLACE STREAM "CHAINED_STREAM" (TICKER VARCHAR(4), PER_CHANGE DOUBLE);
CREATE OR REPLACE PUMP "CHAINED_PUMP" AS INSERT INTO "CHAINED_STREAM"
SELECT STREAM ticker, price / change FROM "COPY_STREAM";
"""


def _app(tmp_path: Path) -> SqlApplication:
    (tmp_path / "app.sql").write_text(SQL)
    (tmp_path / "application.yaml").write_text(yaml.safe_dump({
        "ApplicationName": "offsets",
        "ApplicationCode": "app.sql",
        "Inputs": [{"NamePrefix": "SOURCE_SQL_STREAM", "Topic": "in", "InputSchema": {
            "RecordFormat": {"RecordFormatType": "JSON"},
            "RecordColumns": [
                {"Name": "TICKER_SYMBOL", "SqlType": "VARCHAR(4)", "Mapping": "$.t"},
                {"Name": "PRICE", "SqlType": "REAL", "Mapping": "$.p"},
                {"Name": "CHANGE", "SqlType": "REAL", "Mapping": "$.c"}]}}],
        "Outputs": [{"Name": n, "Topic": n.lower(), "DestinationSchema": {
            "RecordFormatType": "JSON"}} for n in ("DESTINATION_SQL_STREAM", "CHAINED_STREAM")],
        "ErrorOutput": {"Topic": "errors", "RecordFormatType": "JSON"},
    }))
    config, plan = check_application(tmp_path)
    return SqlApplication(config, plan, Settings.from_env({}))


def _trade(ticker: str, change: float) -> dict[str, object]:
    return {"t": ticker, "p": 10.0, "c": change}


# (offset, record): which records hold a zero change, whatever the rows before them
RECORDS = [
    (100, json.dumps(_trade("A", 1.0))),
    (101, "not json"),
    (102, json.dumps([_trade("B", 2.0), _trade("C", 0.0), _trade("D", 1.0)])),
    (103, json.dumps(_trade("E", 0.0))),
    (104, json.dumps([])),
    (105, json.dumps(_trade("F", 0.0))),
]


def _errors(app: SqlApplication, batches: list[list[tuple[int, str]]]) -> list[tuple]:
    proc = app.processor("in", 0)
    got = []
    for batch in batches:
        records = [SourceRecord("in", 0, off, 1_700_000_000_000 + off, None, raw.encode())
                   for off, raw in batch]  # fmt: skip
        for o in proc.process(records):
            if o.topic == "errors":
                e = json.loads(o.value)
                ticker = None  # the row's one text value; a record that did not decode: none
                if e["PUMP_NAME"] != "SOURCE_SQL_STREAM_001":
                    row = json.loads(bytes.fromhex(e["DATA_ROW"]))
                    (ticker,) = [v for v in row if isinstance(v, str)]
                got.append((e["PUMP_NAME"], e["ERROR_NAME"], ticker, e["SOURCE_OFFSET"]))
    return sorted(got, key=str)


@pytest.mark.parametrize("split", [0, 2, 3, 5])
def test_a_pump_on_the_input_stream_names_the_record_a_later_pump_cannot(
    tmp_path: Path, split: int
) -> None:
    batches = [RECORDS[:split], RECORDS[split:]] if split else [RECORDS]
    got = _errors(_app(tmp_path), batches)
    zero = [(ticker, off) for off, raw in RECORDS if raw.startswith(("{", "["))
            for trade in (json.loads(raw) if raw.startswith("[") else [json.loads(raw)])
            if trade["c"] == 0.0 for ticker in [trade["t"]]]  # fmt: skip
    assert [t for t, _ in zero] == ["C", "E", "F"]
    want = sorted(
        [("SOURCE_SQL_STREAM_001", "Malformed_Record", None, 101)]
        + [("DIRECT_PUMP", "Divide_By_Zero", t, off) for t, off in zero]
        # a row of COPY_STREAM is the pump's own, made from the input row: no one record
        + [("CHAINED_PUMP", "Divide_By_Zero", t, -1) for t, _ in zero],
        key=str,
    )
    assert got == want
