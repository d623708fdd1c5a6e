import json

from pipelines.error_rows import MALFORMED_RECORD, ErrorRow


def test_error_row_keeps_original_bytes_and_kda_columns() -> None:
    raw = b"\x00\xffnot json{"
    row = ErrorRow(1, MALFORMED_RECORD, "not UTF-8 JSON", 7, raw, "app", "t", 3, 99)
    decoded = json.loads(row.to_json_bytes())
    assert ErrorRow.original_bytes(decoded) == raw
    assert decoded["ERROR_NAME"] == MALFORMED_RECORD
    assert {"ERROR_TIME", "ERROR_LEVEL", "MESSAGE", "DATA_ROWTIME", "PUMP_NAME"} <= decoded.keys()
    assert (decoded["SOURCE_TOPIC"], decoded["SOURCE_PARTITION"], decoded["SOURCE_OFFSET"]) == (
        "t",
        3,
        99,
    )
