"""A configured KDA application: config + SQL + reference data → runtime processors.

:func:`check_application` parses and plans without touching Kafka or S3 (``shardline sql
check`` / ``explain``). :func:`load_sql_application` also loads the reference tables and gives
a :class:`SqlApplication`, whose :meth:`~SqlApplication.processor` is the runtime's processor
factory: one :class:`SqlPartitionProcessor` per input partition, which decodes records into
rows, runs the pumps, and encodes the rows of the output streams and of ``error_stream``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ground.errors import ConfigError, RowError, SqlPlanError
from ground.kafka import partition_count
from ground.settings import Settings
from pipelines.error_rows import ERROR_STREAM_COLUMNS, ErrorRow
from pipelines.runtime import OutRecord, RuntimeConfig, SourceRecord
from pipelines.sql.appconfig import ApplicationConfig, Column
from pipelines.sql.decoders import RECORD_TOO_LARGE, build_decoder
from pipelines.sql.encoders import RowEncoder, build_encoder
from pipelines.sql.engine import PartitionEngine
from pipelines.sql.kda_import import load_application_file
from pipelines.sql.operators.base import KeyedRow, RowFailure
from pipelines.sql.plan import (
    ERROR_STREAM,
    ApplicationPlan,
    StreamColumn,
    TableInfo,
    plan_application,
)
from pipelines.sql.reference import load_reference_tables
from pipelines.sql.state_codec import tag
from pipelines.sql.types import Timestamp
from schemas import catalog_for

#: an error row's fields besides DATA_ROW (names, message, topic, offsets...), generously
ERROR_ROW_OVERHEAD_BYTES = 64 * 1024
#: the largest record a Kafka topic takes by default (the broker's message.max.bytes)
KAFKA_DEFAULT_MESSAGE_BYTES = 1_048_588

__all__ = [
    "SqlApplication",
    "SqlPartitionProcessor",
    "check_application",
    "load_sql_application",
    "sql_application",
]


def _stream_columns(columns: Sequence[Column]) -> list[StreamColumn]:
    return [StreamColumn(c.name, c.sql_type) for c in columns]


def _plan(
    config: ApplicationConfig, tables: dict[str, list[tuple[Any, ...]]] | None
) -> ApplicationPlan:
    inputs = {i.stream_name: _stream_columns(i.columns) for i in config.inputs}
    table_infos = {
        r.table_name: TableInfo(
            r.table_name,
            tuple(_stream_columns(r.columns)),
            tuple((tables or {}).get(r.table_name, ())),
        )
        for r in config.reference_data_sources
    }
    plan = plan_application(
        config.read_code(),
        application=config.application_name,
        inputs=inputs,
        tables=table_infos,
        allowed_lateness_ms=config.event_time.allowed_lateness_ms,
    )
    for output in config.outputs:
        if output.name != ERROR_STREAM and output.name not in plan.streams:
            raise SqlPlanError(
                f"Outputs: stream {output.name} is not created by the application code"
            )
    return plan


def check_application(
    path: Path | str, **overrides: Any
) -> tuple[ApplicationConfig, ApplicationPlan]:
    """Validate config and SQL; nothing is contacted. Raises ConfigError or SqlError.

    ``path`` is an application folder, its ``application.yaml``, or a
    ``create-application --cli-input-json`` file (:mod:`pipelines.sql.kda_import`)."""
    config = load_application_file(path, **overrides)
    return config, _plan(config, None)


@dataclass(frozen=True, slots=True)
class _Output:
    stream: str
    topic: str
    encoder: RowEncoder


class SqlApplication:
    def __init__(
        self, config: ApplicationConfig, plan: ApplicationPlan, settings: Settings
    ) -> None:
        self.config = config
        self.plan = plan
        self.settings = settings
        catalog = catalog_for(settings)  # the user's schemas and schema registry
        self._decoders = {
            i.topic: (i, build_decoder(i.input_schema, catalog)) for i in config.inputs
        }
        self._outputs: dict[str, list[_Output]] = {}
        for output in config.outputs:
            if output.name == ERROR_STREAM:
                continue
            columns = [Column(c.name, c.sql_type) for c in plan.streams[output.name].columns]
            self._outputs.setdefault(output.name, []).append(
                _Output(
                    output.name,
                    output.topic,
                    build_encoder(columns, output.record_format_type.value),
                )
            )
        self.error_topic = config.error_output.topic
        self._error_encoder = build_encoder(
            ERROR_STREAM_COLUMNS, config.error_output.record_format_type.value
        )

    def runtime_config(self, *, instance_id: str | None = None) -> RuntimeConfig:
        topics = [o.topic for outs in self._outputs.values() for o in outs] + [self.error_topic]
        runtime = self.config.runtime
        return RuntimeConfig(
            application_id=self.config.application_name,
            source_topics=tuple(i.topic for i in self.config.inputs),
            starting_position=str(self.config.inputs[0].starting_position.value),
            commit_interval_ms=runtime.commit_interval_ms,
            batch_max_records=runtime.batch_max_records,
            idle_timeout_ms=self.config.event_time.idle_timeout_ms,
            transaction_timeout_ms=runtime.transaction_timeout_ms,
            session_timeout_ms=runtime.session_timeout_ms,
            instance_id=instance_id,
            output_topics=tuple(dict.fromkeys(topics)),
            # an error row holds a rejected input in hex: twice its size, plus the row. A
            # Record_Too_Large row holds an input over the limit: as big as Kafka let it be
            max_message_bytes=2 * max(runtime.max_record_bytes, KAFKA_DEFAULT_MESSAGE_BYTES)
            + ERROR_ROW_OVERHEAD_BYTES,
        )

    def unaligned_pumps(self) -> list[str]:
        """Stateful pumps whose groups may span input partitions (see :meth:`preflight`)."""
        keys = {k for i in self.config.inputs for k in i.partition_key}
        return [p.name for p in self.plan.pumps if not p.aligned_with(sorted(keys))]

    def preflight(self) -> None:
        """Check the inputs before a worker starts, each failure one clear error.

        Every input topic must exist: a missing topic or an unreachable broker fails here,
        not inside the worker. And refuse to start what would give per-partition results
        where KDA gives global ones: window state is kept per input partition, so a pump
        whose GROUP BY / PARTITION BY keys do not include the input's ``PartitionKey`` (or a
        global TOP_K, or a window without PARTITION BY) is only correct on a one-partition
        topic.
        """
        unaligned = self.unaligned_pumps()
        for index, spec in enumerate(self.config.inputs):
            partitions = partition_count(self.settings.kafka, spec.topic)
            if unaligned and partitions > 1:
                raise ConfigError(
                    f"Inputs[{index}].PartitionKey",
                    f"pump(s) {', '.join(unaligned)} group rows by keys that do not include "
                    f"the partition key {list(spec.partition_key) or '(none declared)'} of "
                    f"topic {spec.topic!r}, which has {partitions} partitions; their windows "
                    "would be computed per partition. Key the topic by the grouping columns "
                    "and declare them as PartitionKey, or use a one-partition topic "
                    "(repartitioning is not supported yet).",
                )

    def processor(self, topic: str, partition: int) -> SqlPartitionProcessor:
        spec, decoder = self._decoders[topic]
        return SqlPartitionProcessor(self, spec.stream_name, decoder, topic, partition)

    # used by the processors
    def outputs(self) -> dict[str, list[_Output]]:
        return self._outputs

    def encode_error(self, row: ErrorRow) -> bytes:
        return self._error_encoder.encode(row.as_sql_row())


class SqlPartitionProcessor:
    """The runtime's processor for one input partition (see ``pipelines.runtime``)."""

    def __init__(
        self, app: SqlApplication, stream: str, decoder: Any, topic: str, partition: int
    ) -> None:
        self._app = app
        self._stream = stream
        self._decoder = decoder
        self._topic = topic
        self._partition = partition
        self._engine = PartitionEngine(
            app.plan,
            partition=partition,
            allowed_lateness_ms=app.config.event_time.allowed_lateness_ms,
        )
        self._outputs = app.outputs()
        self._prefix = f"{app.config.application_name}/"

    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        engine = self._engine
        decode_rows = self._decoder.decode_rows
        max_bytes = self._app.config.runtime.max_record_bytes
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        out: list[OutRecord] = []
        last_ms: int | None = None
        rowtime = arrival = Timestamp(0)
        prefixed = self._decoder.prefixed
        if prefixed is not None:  # one row per record, decoded straight into the row tuple
            # ROWTIME is the running maximum of the timestamps (engine.next_rowtime), kept
            # here and handed to the engine once: an ascending timestamp is then one
            # Timestamp for both columns, not two and a method call per record
            high = engine.rowtime
            rowtime = Timestamp(high)
            times = (rowtime, arrival)
            for record in batch:
                timestamp_ms = record.timestamp_ms
                if timestamp_ms != last_ms:
                    last_ms = timestamp_ms
                    if timestamp_ms > high:
                        high = timestamp_ms
                        rowtime = Timestamp(timestamp_ms)
                        times = (rowtime, rowtime)
                    else:
                        times = (rowtime, Timestamp(timestamp_ms))
                raw = record.value or b""
                if len(raw) > max_bytes:
                    out.append(self._too_large(raw, max_bytes, rowtime, record))
                    continue
                try:
                    append(prefixed(times, raw))
                except RowError as exc:
                    out.append(
                        self._error(exc.name, exc.message, rowtime, raw, self._stream, record)
                    )
            engine.next_rowtime(high)
            if rows:
                self._emit(engine.push(self._stream, rows), out)
            return out
        for record in batch:
            timestamp_ms = record.timestamp_ms
            if timestamp_ms != last_ms:  # records of a batch often share their timestamp
                rowtime = engine.next_rowtime(timestamp_ms)
                arrival = Timestamp(timestamp_ms)
                last_ms = timestamp_ms
            raw = record.value or b""
            if len(raw) > max_bytes:
                out.append(self._too_large(raw, max_bytes, rowtime, record))
                continue
            try:
                decoded = decode_rows(raw)
            except RowError as exc:
                out.append(self._error(exc.name, exc.message, rowtime, raw, self._stream, record))
                continue
            times = (rowtime, arrival)
            for values in decoded:
                append(times + values)
        if rows:
            self._emit(engine.push(self._stream, rows), out)
        return out

    def _too_large(self, raw: bytes, max_bytes: int, rowtime: Timestamp,
                   record: SourceRecord) -> OutRecord:
        return self._error(RECORD_TOO_LARGE, f"{len(raw)} bytes, over Runtime.MaxRecordBytes "
                           f"({max_bytes})", rowtime, raw, self._stream, record)

    def on_idle(self, now_ms: int, idle_ms: int) -> list[OutRecord]:
        out: list[OutRecord] = []
        self._emit(self._engine.advance(idle=True), out)
        return out

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        return self._engine.take_changes()

    def restore(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        self._engine.restore(entries)

    # -- encoding -----------------------------------------------------------------------------
    def _emit(self, streams: dict[str, list[tuple[Any, ...]]], out: list[OutRecord]) -> None:
        for stream, rows in streams.items():
            for output in self._outputs.get(stream, ()):
                encode = output.encoder.encode
                for row in rows:
                    key = row.key if isinstance(row, KeyedRow) else None
                    out.append(
                        OutRecord(output.topic, key, encode(row[1:]), int(row[0]), self._partition)
                    )
        for failure in self._engine.take_failures():
            out.append(self._failure(failure))

    def _failure(self, failure: RowFailure) -> OutRecord:
        data = orjson.dumps(tag(list(failure.row)))
        rowtime = failure.row[0] if failure.row and isinstance(failure.row[0], int) else None
        row = ErrorRow(
            int(self._engine.rowtime),
            failure.name,
            failure.message,
            rowtime,
            data,
            failure.pump,
            self._topic,
            self._partition,
            -1,
        )
        return OutRecord(
            self._app.error_topic,
            None,
            self._app.encode_error(row),
            int(self._engine.rowtime),
            self._partition,
        )

    def _error(
        self, name: str, message: str, rowtime: int, raw: bytes, pump: str, record: SourceRecord
    ) -> OutRecord:
        row = ErrorRow(
            int(rowtime),
            name,
            message,
            int(rowtime),
            raw,
            pump,
            record.topic,
            record.partition,
            record.offset,
        )
        return OutRecord(
            self._app.error_topic, None, self._app.encode_error(row), int(rowtime), self._partition
        )


def sql_application(
    config: ApplicationConfig,
    settings: Settings,
    tables: dict[str, list[tuple[Any, ...]]] | None = None,
) -> SqlApplication:
    """The application of a loaded ``config``, its reference tables' rows given (offline)."""
    return SqlApplication(config, _plan(config, tables), settings)


def load_sql_application(path: Path | str, settings: Settings, **overrides: Any) -> SqlApplication:
    """Config + SQL + reference tables (read from S3/MinIO once, at start-up)."""
    config = load_application_file(path, **overrides)
    tables: dict[str, list[tuple[Any, ...]]] = {}
    if config.reference_data_sources:
        tables = asyncio.run(load_reference_tables(config, settings))
    return SqlApplication(config, _plan(config, tables), settings)
