"""Rows of the error stream, shaped like KDA's ``error_stream``.

KDA's columns are kept (``ERROR_TIME, ERROR_LEVEL, ERROR_NAME, MESSAGE, DATA_ROWTIME,
DATA_ROW, PUMP_NAME``); ``DATA_ROW`` is the hex of the original record bytes, whole, so
nothing is lost. The Kafka coordinates of the source record are added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["LATE_RECORD", "MALFORMED_RECORD", "ErrorRow"]

MALFORMED_RECORD = "MALFORMED_RECORD"
LATE_RECORD = "LATE_RECORD"


@dataclass(frozen=True, slots=True)
class ErrorRow:
    error_time_ms: int
    error_name: str
    message: str
    data_rowtime_ms: int | None
    data_row: bytes
    pump_name: str
    source_topic: str
    source_partition: int
    source_offset: int

    def to_json_bytes(self) -> bytes:
        return json.dumps(
            {
                "ERROR_TIME": self.error_time_ms,
                "ERROR_LEVEL": "ERROR",
                "ERROR_NAME": self.error_name,
                "MESSAGE": self.message,
                "DATA_ROWTIME": self.data_rowtime_ms,
                "DATA_ROW": self.data_row.hex(),
                "PUMP_NAME": self.pump_name,
                "SOURCE_TOPIC": self.source_topic,
                "SOURCE_PARTITION": self.source_partition,
                "SOURCE_OFFSET": self.source_offset,
            },
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def original_bytes(value: dict[str, object]) -> bytes:
        """The original record bytes of a decoded error row."""
        return bytes.fromhex(str(value["DATA_ROW"]))
