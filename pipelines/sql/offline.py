"""Running an application offline: rows in, each output stream's rows out, no servers.

``shardline sql test`` runs here. The rows go through the worker's own processor
(:class:`~pipelines.sql.application.SqlPartitionProcessor`: decode → engine → encode), on one
partition, in batches, and the windows still open at the end of the input are closed as a
worker closes them when its input goes quiet. Only the record format changes: the input is
read as JSON objects keyed by the input's column names, and the output streams are written
as JSON, whatever the application's formats.

Input rows (one JSON object per line): the input schema's columns by ``Name`` (exactly as
written in the config; a missing column is NULL), values as in a JSON record (TIMESTAMP as
epoch milliseconds or ``'YYYY-MM-DD HH:MM:SS.fff'``). An optional ``ROWTIME`` member is the
row's arrival time (the Kafka record timestamp; epoch milliseconds or timestamp text);
ROWTIME is, as in the worker, the running maximum of the arrival times. A row without one
arrives at the time of the row before it (the first at 0, 1970-01-01). A line that is not
JSON, or a value that does not fit its column, becomes an ``error_stream`` row as in the
worker.

Output rows: ``{"stream": NAME, "ROWTIME": "YYYY-MM-DD HH:MM:SS.fff", "row": {COLUMN:
value, ...}}``, in the order the engine emits them; ``error_stream`` rows likewise, with the
error stream's columns. :func:`diff_rows` compares two such lists as KDA defines order: rows
of a stream sharing a ROWTIME may come in any order.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ground.errors import ConfigError, RowError
from ground.settings import Settings
from pipelines.runtime import SourceRecord
from pipelines.sql.appconfig import ApplicationConfig, ErrorOutput, Output, OutputFormat
from pipelines.sql.application import sql_application
from pipelines.sql.encoders import timestamp_text
from pipelines.sql.plan import ERROR_STREAM
from pipelines.sql.record_schema import Column, InputSchema, RecordFormat, RecordFormatType
from pipelines.sql.reference import decode_reference_data
from pipelines.sql.types import coerce, parse_type

__all__ = [
    "OfflineRow",
    "ROWTIME_FIELD",
    "count_by_stream",
    "diff_rows",
    "parse_rows",
    "run_offline",
]

#: the member of an input row holding its arrival time
ROWTIME_FIELD = "ROWTIME"
DEFAULT_BATCH_RECORDS = 500
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIMESTAMP = parse_type("TIMESTAMP")
_ERROR_TOPIC = "\0error_stream"  # no output topic can be called this


@dataclass(frozen=True, slots=True)
class OfflineRow:
    """One row of an output stream (or of ``error_stream``)."""

    stream: str
    rowtime: str
    row: dict[str, Any]

    def as_json(self) -> bytes:
        return orjson.dumps({"stream": self.stream, "ROWTIME": self.rowtime, "row": self.row})


def _json_schema(schema: InputSchema) -> InputSchema:
    def path(name: str) -> str:
        return f"$.{name}" if _PLAIN_NAME.match(name) else "$['" + name.replace("'", "\\'") + "']"

    columns = tuple(Column(c.name, c.sql_type, path(c.name)) for c in schema.record_columns)
    return InputSchema(RecordFormat(RecordFormatType.JSON), columns, path=schema.path)


def _arrival_ms(value: Any, line_number: int) -> int:
    try:
        ms = coerce(value, _TIMESTAMP)
    except RowError as exc:
        raise ConfigError(f"line {line_number}.{ROWTIME_FIELD}", exc.message) from None
    if ms is None or int(ms) < 0:
        raise ConfigError(f"line {line_number}.{ROWTIME_FIELD}", "expected a time at or after 1970")
    return int(ms)


def _records(lines: Iterable[bytes | str], topic: str) -> list[SourceRecord]:
    records = []
    arrival_ms = 0
    for number, line in enumerate(lines, start=1):
        raw = line.encode() if isinstance(line, str) else line
        if not raw.strip():
            continue
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            doc = None  # the decoder turns it into an error_stream row, as the worker does
        if isinstance(doc, dict) and ROWTIME_FIELD in doc:
            arrival_ms = _arrival_ms(doc.pop(ROWTIME_FIELD), number)
            raw = orjson.dumps(doc)
        records.append(SourceRecord(topic, 0, number, arrival_ms, None, raw.strip()))
    return records


def run_offline(
    config: ApplicationConfig,
    lines: Iterable[bytes | str],
    settings: Settings,
    *,
    references: Mapping[str, bytes] | None = None,
    streams: Sequence[str] = (),
    batch_records: int = DEFAULT_BATCH_RECORDS,
) -> list[OfflineRow]:
    """Run ``config`` over the input rows ``lines`` (see the module docstring).

    ``references`` holds each reference table's object (the bytes of its S3 file, read with
    its ``ReferenceSchema``); ``streams`` names in-application streams to show besides the
    configured outputs. ``settings`` is not used to contact anything.
    """
    if len(config.inputs) != 1:
        raise ConfigError("Inputs", f"an offline run takes one input, not {len(config.inputs)}")
    tables = {}
    for source in config.reference_data_sources:
        body = (references or {}).get(source.table_name)
        if body is None:
            raise ConfigError(
                f"ReferenceDataSources.{source.table_name}",
                "give the table's file (its S3 object) to run offline",
            )
        tables[source.table_name] = decode_reference_data(source, body)
    names = [o.name for o in config.outputs if o.name != ERROR_STREAM]
    names += [s for s in streams if s not in names]
    topics = {f"out:{name}": name for name in names}
    topics[_ERROR_TOPIC] = ERROR_STREAM
    offline = replace(
        config,
        inputs=(
            replace(
                config.inputs[0],
                input_schema=_json_schema(config.inputs[0].input_schema),
            ),
        ),
        outputs=tuple(Output(name, f"out:{name}", OutputFormat.JSON) for name in names),
        error_output=ErrorOutput(_ERROR_TOPIC, OutputFormat.JSON),
    )
    app = sql_application(offline, settings, tables)
    app.stable_offsets = None  # no broker: an idle channel holds nothing
    topic = config.inputs[0].topic
    app.wire({topic: 1})  # one partition of the input, and of every repartition topic
    internal = set(app.repartition_topics)
    processors: dict[str, Any] = {}
    offsets: dict[str, int] = {}

    def feed(batch_topic: str, batch: list[Any]) -> list[Any]:
        """Run ``batch`` through its topic's processor; rows a stage writes to a repartition
        topic go on to the stage that reads it, as the worker's consumer would take them."""
        if batch_topic not in processors:
            processors[batch_topic] = app.processor(batch_topic, 0)
        return settle(processors[batch_topic].process(batch))

    def settle(emitted: list[Any]) -> list[Any]:
        done: list[Any] = []
        pending: dict[str, list[Any]] = {}
        for record in emitted:
            if record.topic in internal:
                offsets[record.topic] = offsets.get(record.topic, -1) + 1
                pending.setdefault(record.topic, []).append(
                    SourceRecord(
                        record.topic,
                        0,
                        offsets[record.topic],
                        record.timestamp_ms or 0,
                        record.key,
                        record.value,
                    )
                )
            else:
                done.append(record)
        for inner, batch in pending.items():
            done += feed(inner, batch)
        return done

    records = _records(lines, topic)
    out = []
    for start in range(0, len(records), batch_records):
        out += feed(topic, records[start : start + batch_records])
    last_ms = records[-1].timestamp_ms if records else 0
    for name in [topic, *app.repartition_topics]:  # stage order: upstream first
        if name not in processors:
            processors[name] = app.processor(name, 0)
        out += settle(processors[name].on_idle(last_ms, 0))
    return [
        OfflineRow(topics[r.topic], timestamp_text(r.timestamp_ms or 0), orjson.loads(r.value))
        for r in out
    ]


def parse_rows(lines: Iterable[bytes | str]) -> list[OfflineRow]:
    """Rows written by :meth:`OfflineRow.as_json` (an ``--expect`` file); blank lines skipped."""
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
            rows.append(OfflineRow(str(doc["stream"]), str(doc["ROWTIME"]), dict(doc["row"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"line {number}", f'expected {{"stream", "ROWTIME", "row"}} JSON: {exc}'
            ) from None
    return rows


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return a == b
        if isinstance(a, int | float) and isinstance(b, int | float):
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def diff_rows(got: Sequence[OfflineRow], expected: Sequence[OfflineRow]) -> list[str]:
    """The differences, as ``- expected`` / ``+ got`` lines grouped by stream and ROWTIME
    (empty when the rows match). Rows of one stream and ROWTIME match in any order; floats
    match to a relative 1e-9."""
    groups: dict[tuple[str, str], tuple[list[OfflineRow], list[OfflineRow]]] = defaultdict(
        lambda: ([], [])
    )
    for row in expected:
        groups[row.stream, row.rowtime][0].append(row)
    for row in got:
        groups[row.stream, row.rowtime][1].append(row)
    lines: list[str] = []
    for (stream, rowtime), (want, have) in sorted(groups.items()):
        missing = []
        rest = list(have)
        for row in want:
            match = next((i for i, g in enumerate(rest) if _close(g.row, row.row)), None)
            if match is None:
                missing.append(row)
            else:
                rest.pop(match)
        if missing or rest:
            lines.append(f"@@ {stream} ROWTIME {rowtime}")
            lines += [f"- {orjson.dumps(r.row).decode()}" for r in missing]
            lines += [f"+ {orjson.dumps(r.row).decode()}" for r in rest]
    return lines


def count_by_stream(rows: Iterable[OfflineRow]) -> Counter[str]:
    """How many rows each stream has."""
    return Counter(r.stream for r in rows)
