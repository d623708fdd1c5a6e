"""The offline runner behind ``shardline sql test``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ground.errors import ConfigError
from ground.settings import Settings
from pipelines.sql.appconfig import ApplicationConfig
from pipelines.sql.offline import OfflineRow, diff_rows, parse_rows, run_offline

CODE = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (sym VARCHAR(4), n BIGINT, total DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM sym, COUNT(*), SUM(price) FROM "SOURCE_SQL_STREAM_001"
GROUP BY sym, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);
CREATE OR REPLACE STREAM "NAMED" (sym VARCHAR(4), company VARCHAR(20));
CREATE OR REPLACE PUMP "Q" AS INSERT INTO "NAMED"
SELECT STREAM s.sym, c.company FROM "SOURCE_SQL_STREAM_001" AS s
LEFT JOIN "COMPANY" AS c ON s.sym = c.ticker;
"""


def _config(**extra: Any) -> ApplicationConfig:
    mapping = {
        "ApplicationName": "offline",
        "Inputs": [
            {
                "NamePrefix": "SOURCE_SQL_STREAM",
                "Topic": "in",
                "InputSchema": {  # CSV: the offline rows are JSON whatever the input format
                    "RecordFormat": {"RecordFormatType": "CSV"},
                    "RecordColumns": [
                        {"Name": "sym", "SqlType": "VARCHAR(4)"},
                        {"Name": "Price", "SqlType": "DOUBLE"},
                    ],
                },
            }
        ],
        "Outputs": [
            {
                "Name": "DESTINATION_SQL_STREAM",
                "Topic": "out",
                "DestinationSchema": {"RecordFormatType": "CSV"},
            }
        ],
        "ReferenceDataSources": [
            {
                "TableName": "COMPANY",
                "S3ReferenceDataSource": {"Bucket": "refs", "FileKey": "c.csv"},
                "ReferenceSchema": {
                    "RecordFormat": {"RecordFormatType": "CSV"},
                    "RecordColumns": [
                        {"Name": "TICKER", "SqlType": "VARCHAR(4)"},
                        {"Name": "COMPANY", "SqlType": "VARCHAR(20)"},
                    ],
                },
            }
        ],
        **extra,
    }
    config = ApplicationConfig.from_mapping(mapping, Path("."), check_code=False)
    return replace(config, code_path=None, code_text=CODE)


REFS = {"COMPANY": b"AMZN,Amazon\nMSFT,Microsoft\n"}
ROWS = [
    {"ROWTIME": 1_000, "sym": "AMZN", "Price": 1.5},
    {"sym": "AMZN", "Price": 2.0},  # arrives with the row before it
    {"ROWTIME": "1970-01-01 00:00:03.000", "sym": "MSFT", "Price": 4.0},
    {"ROWTIME": 2_000, "sym": "AMZN", "Price": 8.0},  # earlier arrival: ROWTIME stays 3 s
    {"ROWTIME": 12_000, "sym": "IBM", "Price": 16.0},
]


def _run(rows: list[Any], **kwargs: Any) -> list[OfflineRow]:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    return run_offline(_config(), lines, Settings.from_env(), references=REFS, **kwargs)


def test_rows_run_through_the_engine_and_windows_close_at_the_end() -> None:
    out = _run(ROWS)
    assert [(r.stream, r.rowtime, r.row) for r in out] == [
        ("DESTINATION_SQL_STREAM", "1970-01-01 00:00:10.000",
         {"SYM": "AMZN", "N": 3, "TOTAL": 11.5}),
        ("DESTINATION_SQL_STREAM", "1970-01-01 00:00:10.000",
         {"SYM": "MSFT", "N": 1, "TOTAL": 4.0}),
        ("DESTINATION_SQL_STREAM", "1970-01-01 00:00:20.000",  # closed by the end of input
         {"SYM": "IBM", "N": 1, "TOTAL": 16.0}),
    ]


def test_other_streams_on_request_with_the_reference_table() -> None:
    named = [r for r in _run(ROWS, streams=["NAMED"]) if r.stream == "NAMED"]
    assert [(r.rowtime, r.row["SYM"], r.row["COMPANY"]) for r in named] == [
        ("1970-01-01 00:00:01.000", "AMZN", "Amazon"),
        ("1970-01-01 00:00:01.000", "AMZN", "Amazon"),
        ("1970-01-01 00:00:03.000", "MSFT", "Microsoft"),
        ("1970-01-01 00:00:03.000", "AMZN", "Amazon"),
        ("1970-01-01 00:00:12.000", "IBM", None),
    ]


def test_bad_rows_go_to_error_stream() -> None:
    out = _run([ROWS[0], "{not json", {"ROWTIME": 1_500, "sym": "TOOLONG", "Price": 1}])
    errors = [r for r in out if r.stream == "error_stream"]
    assert [e.row["ERROR_NAME"] for e in errors] == ["Malformed_Record", "Type_Coercion_Error"]
    assert [e.row["SOURCE_OFFSET"] for e in errors] == [2, 3]  # the line numbers
    assert errors[1].rowtime == "1970-01-01 00:00:01.500"


def test_a_bad_rowtime_names_its_line() -> None:
    with pytest.raises(ConfigError) as err:
        _run([ROWS[0], {"ROWTIME": "yesterday", "sym": "A", "Price": 1}])
    assert err.value.field == "line 2.ROWTIME"


def test_reference_tables_must_be_given() -> None:
    with pytest.raises(ConfigError) as err:
        run_offline(_config(), [], Settings.from_env())
    assert err.value.field == "ReferenceDataSources.COMPANY"


def test_diff_ignores_order_within_a_rowtime_only() -> None:
    a = OfflineRow("S", "t1", {"x": 1, "y": 0.1 + 0.2})
    b = OfflineRow("S", "t1", {"x": 2, "y": 0.3})
    c = OfflineRow("S", "t2", {"x": 3, "y": 0.3})
    assert diff_rows([a, b, c], [b, a, c]) == []
    assert diff_rows([a, b, c], [OfflineRow("S", "t1", {"x": 1, "y": 0.3}), b, c]) == []
    assert diff_rows([a, b, c], [a, OfflineRow("S", "t2", b.row), c]) == [
        "@@ S ROWTIME t1",
        '+ {"x":2,"y":0.3}',
        "@@ S ROWTIME t2",
        '- {"x":2,"y":0.3}',
    ]
    assert diff_rows([a], [OfflineRow("S", "t1", {"x": 1, "y": 0.1 + 0.2, "z": None})]) != []


def test_expected_rows_parse_from_printed_lines() -> None:
    rows = _run(ROWS)
    assert parse_rows([r.as_json() for r in rows] + [b""]) == rows
    with pytest.raises(ConfigError) as err:
        parse_rows([rows[0].as_json(), b'{"stream": "S"}'])
    assert err.value.field == "line 2"
