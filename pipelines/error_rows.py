"""Rows of the error stream, shaped like KDA's ``error_stream``.

KDA's columns are kept (``ERROR_TIME, ERROR_LEVEL, ERROR_NAME, MESSAGE, DATA_ROWTIME,
DATA_ROW, PUMP_NAME``); ``DATA_ROW`` is the hex of the original record bytes, whole, so
nothing is lost. The Kafka coordinates of the source record are added.

:meth:`ErrorRow.as_sql_row` gives the row in the columns :data:`ERROR_STREAM_COLUMNS` (times
as KDA TIMESTAMPs), written with the output encoders
(``pipelines.sql.encoders.build_encoder(ERROR_STREAM_COLUMNS, "JSON")``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ground.errors import RowError
from pipelines.sql.appconfig import Column
from pipelines.sql.types import SqlType, Timestamp, TypeKind

__all__ = ["ERROR_STREAM_COLUMNS", "ErrorRow"]

_TS, _TEXT = SqlType(TypeKind.TIMESTAMP), SqlType(TypeKind.VARCHAR)
#: The columns of a SQL application's error stream: KDA's, then the source coordinates.
ERROR_STREAM_COLUMNS: tuple[Column, ...] = (
    Column("ERROR_TIME", _TS),
    Column("ERROR_LEVEL", _TEXT),
    Column("ERROR_NAME", _TEXT),
    Column("MESSAGE", _TEXT),
    Column("DATA_ROWTIME", _TS),
    Column("DATA_ROW", _TEXT),
    Column("PUMP_NAME", _TEXT),
    Column("SOURCE_TOPIC", _TEXT),
    Column("SOURCE_PARTITION", SqlType(TypeKind.INTEGER)),
    Column("SOURCE_OFFSET", SqlType(TypeKind.BIGINT)),
)


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

    @classmethod
    def from_row_error(
        cls,
        error: RowError,
        raw: bytes,
        *,
        error_time_ms: int,
        data_rowtime_ms: int | None,
        pump_name: str,
        source_topic: str,
        source_partition: int,
        source_offset: int,
    ) -> ErrorRow:
        """The error row of a record that failed with ``error`` (its ``name`` is the
        ``ERROR_NAME``). ``pump_name`` is the pump, or the input stream for decoding errors."""
        return cls(
            error_time_ms, error.name, error.message, data_rowtime_ms, raw, pump_name,
            source_topic, source_partition, source_offset,
        )

    def as_sql_row(self) -> tuple[Any, ...]:
        """The row in :data:`ERROR_STREAM_COLUMNS` order, times as TIMESTAMPs."""
        return (
            Timestamp(self.error_time_ms),
            "ERROR",
            self.error_name,
            self.message,
            None if self.data_rowtime_ms is None else Timestamp(self.data_rowtime_ms),
            self.data_row.hex(),
            self.pump_name,
            self.source_topic,
            self.source_partition,
            self.source_offset,
        )

    @staticmethod
    def original_bytes(value: dict[str, object]) -> bytes:
        """The original record bytes of a decoded error row."""
        return bytes.fromhex(str(value["DATA_ROW"]))
