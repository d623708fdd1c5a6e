"""The configuration of a KDA SQL application: inputs, outputs, reference data.

A SQL application lives in a folder ``<app>/``: ``app.sql`` (the code) and
``application.yaml`` (or ``.yml`` / ``.json``), which uses the names of the KDA API
(``CreateApplication``) where KDA has one, plus a few Kafka-specific fields::

    ApplicationName: ticker-analytics       # [A-Za-z0-9_.-]{1,128}: also the consumer group id,
                                            # the transactional-id prefix and internal topic prefix
    ApplicationDescription: ...             # optional
    ApplicationCode: app.sql                # file, relative to this one (default app.sql)
    Inputs:                                 # one or more (KDA: exactly one)
      - NamePrefix: SOURCE_SQL_STREAM       # in-application stream NamePrefix + "_001"
        Topic: ticker                       # replaces KinesisStreamsInput / KinesisFirehoseInput
        StartingPosition: TRIM_HORIZON      # NOW | TRIM_HORIZON (default) | LAST_STOPPED_POINT
        PartitionKey: [TICKER_SYMBOL]       # optional: the columns the topic is keyed by
        InputSchema:
          RecordFormat:
            RecordFormatType: JSON          # JSON | CSV | AVRO
            MappingParameters:              # optional; defaults shown
              JSONMappingParameters: {RecordRowPath: $}
              CSVMappingParameters: {RecordRowDelimiter: "\\n", RecordColumnDelimiter: ","}
            AvroSchema: ticker              # AVRO only: a schema of schemas/ (Confluent framing)
          RecordEncoding: UTF-8             # optional; UTF-8 is the only encoding (as KDA)
          RecordColumns:
            - {Name: TICKER_SYMBOL, SqlType: VARCHAR(4), Mapping: $.ticker_symbol}
    ReferenceDataSources:                   # optional
      - TableName: COMPANY
        S3ReferenceDataSource: {BucketARN: "arn:aws:s3:::refdata", FileKey: companies.csv}
        ReferenceSchema: {RecordFormat: {...}, RecordColumns: [...]}   # JSON or CSV
    Outputs:                                # optional (KDA: up to three)
      - Name: DESTINATION_SQL_STREAM
        Topic: ticker-analytics-out
        DestinationSchema: {RecordFormatType: JSON}                   # JSON | CSV
    ErrorOutput: {Topic: ticker-analytics-errors, RecordFormatType: JSON}  # default <app>-errors
    EventTime: {AllowedLatenessMs: 5000, IdleTimeoutMs: 65000}         # Shardline additions
    Runtime: {CommitIntervalMs: 200, BatchMaxRecords: 1000, ProcessingGuarantee: EXACTLY_ONCE,
              TransactionTimeoutMs: 30000, SessionTimeoutMs: 10000}

Rules, and where Shardline differs from KDA:

- Unknown keys are rejected with the list of known ones; every error is a
  :class:`~ground.errors.ConfigError` naming the dotted field path, e.g.
  ``Inputs[0].InputSchema.RecordColumns[2].SqlType``.
- Names (``NamePrefix``, column ``Name``, ``TableName``, output ``Name``) are kept exactly as
  written. KDA quotes the identifiers it creates from the configuration, so SQL must quote
  them when their case is not upper case: ``Name: Ticker`` is ``"Ticker"`` in SQL, while an
  unquoted ``ticker`` in SQL means ``TICKER``. Names follow KDA's pattern: no whitespace,
  ``-``, ``<``, ``>`` or ``&``.
- JSON ``Mapping`` is a JSONPath (see :mod:`pipelines.sql.jsonpath`), required as in KDA; at most
  one array may be flattened (``$.orders[0:].id``) per schema, as in KDA. CSV columns are
  positional and take no ``Mapping``. AVRO columns map a field name or ``$.field`` path, or,
  without ``Mapping``, the field whose name equals the column name ignoring case.
- ``CSVMappingParameters.SkipHeaderLines`` (Shardline addition, default 0) skips lines at the
  start of each record or reference object, for reference files with a header line.
- ``S3ReferenceDataSource`` takes ``BucketARN`` (``arn:aws:s3:::bucket``) or ``Bucket``;
  ``ReferenceRoleARN`` is accepted and ignored (credentials come from the settings).
- Topics: output and error topics must differ from every input topic, and the error topic
  from the output topics. ``StartingPosition`` only says where a consumer group with no
  committed offsets starts (``auto_offset_reset``): committed offsets always win, so a
  restart resumes where it stopped, whatever the setting.

:func:`load_application` reads a folder or file; :func:`import_kda_description` turns the
JSON of ``aws kinesisanalytics describe-application`` into the same configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from ground.errors import ConfigError
from pipelines.runtime.config import (
    DEFAULT_BATCH_MAX_RECORDS,
    DEFAULT_COMMIT_INTERVAL_MS,
    DEFAULT_IDLE_TIMEOUT_MS,
    DEFAULT_SESSION_TIMEOUT_MS,
    DEFAULT_TRANSACTION_TIMEOUT_MS,
    SESSION_TIMEOUT_RANGE_MS,
    TRANSACTION_TIMEOUT_RANGE_MS,
)
from pipelines.sql.jsonpath import JsonPath, compile_path
from pipelines.sql.types import SqlType, parse_type

__all__ = [
    "CONFIG_FILES",
    "DEFAULT_CODE_FILE",
    "ApplicationConfig",
    "Column",
    "ErrorOutput",
    "EventTimeConfig",
    "Input",
    "InputSchema",
    "Output",
    "OutputFormat",
    "ProcessingGuarantee",
    "RecordFormat",
    "RecordFormatType",
    "ReferenceDataSource",
    "RuntimeOptions",
    "StartingPosition",
    "import_kda_description",
    "load_application",
]

CONFIG_FILES = ("application.yaml", "application.yml", "application.json")
DEFAULT_CODE_FILE = "app.sql"
IN_APP_STREAM_SUFFIX = "_001"
DEFAULT_ALLOWED_LATENESS_MS = 5_000
#: KDA's limit on one input row (512 KB); a larger record is a ``Record_Too_Large`` error row.
DEFAULT_MAX_RECORD_BYTES = 524_288
MAX_RECORD_BYTES_RANGE = (1, 8 * 1_048_576)
DEFAULT_ROW_DELIMITER = "\n"
DEFAULT_COLUMN_DELIMITER = ","
DEFAULT_ROW_PATH = "$"
ENCODING = "UTF-8"
MAX_CODE_BYTES = 102_400  # KDA's limit on ApplicationCode

_APP_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_KDA_NAME = re.compile(r"^[^-\s<>&]+$")  # KDA's pattern for stream, column and table names
_BUCKET_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:s3:::([^/]+)$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class RecordFormatType(StrEnum):
    JSON = "JSON"
    CSV = "CSV"
    AVRO = "AVRO"


class OutputFormat(StrEnum):
    """``DestinationSchema.RecordFormatType``."""

    JSON = "JSON"
    CSV = "CSV"


class StartingPosition(StrEnum):
    NOW = "NOW"
    TRIM_HORIZON = "TRIM_HORIZON"
    LAST_STOPPED_POINT = "LAST_STOPPED_POINT"

    @property
    def auto_offset_reset(self) -> str:
        """Where a consumer group without committed offsets starts."""
        return "latest" if self is StartingPosition.NOW else "earliest"


class ProcessingGuarantee(StrEnum):
    EXACTLY_ONCE = "EXACTLY_ONCE"
    AT_LEAST_ONCE = "AT_LEAST_ONCE"


# -- the configuration objects ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A column of an in-application stream or table. ``mapping`` is the source element
    (a JSONPath for JSON, a field or path for AVRO, ``None`` for CSV and outputs)."""

    name: str
    sql_type: SqlType
    mapping: str | None = None


@dataclass(frozen=True, slots=True)
class RecordFormat:
    record_format_type: RecordFormatType
    #: JSON: where the rows of a record are (``JSONMappingParameters.RecordRowPath``).
    record_row_path: str = DEFAULT_ROW_PATH
    #: CSV (``CSVMappingParameters``).
    record_row_delimiter: str = DEFAULT_ROW_DELIMITER
    record_column_delimiter: str = DEFAULT_COLUMN_DELIMITER
    skip_header_lines: int = 0
    #: AVRO: the schema name in ``schemas/``.
    avro_schema: str | None = None


@dataclass(frozen=True, slots=True)
class InputSchema:
    """KDA's ``SourceSchema``: the ``InputSchema`` of an input and the ``ReferenceSchema`` of
    a reference data source. ``path`` is where it sits in the configuration, for errors."""

    record_format: RecordFormat
    record_columns: tuple[Column, ...]
    record_encoding: str = ENCODING
    path: str = field(default="", compare=False)

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.record_columns

    @property
    def format_type(self) -> RecordFormatType:
        return self.record_format.record_format_type


@dataclass(frozen=True, slots=True)
class Input:
    name_prefix: str
    topic: str
    input_schema: InputSchema
    starting_position: StartingPosition = StartingPosition.TRIM_HORIZON
    partition_key: tuple[str, ...] = ()
    path: str = field(default="", compare=False)

    @property
    def stream_name(self) -> str:
        """The in-application stream, e.g. ``SOURCE_SQL_STREAM_001``."""
        return self.name_prefix + IN_APP_STREAM_SUFFIX

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.input_schema.record_columns


@dataclass(frozen=True, slots=True)
class ReferenceDataSource:
    table_name: str
    bucket: str
    file_key: str
    reference_schema: InputSchema
    path: str = field(default="", compare=False)
    #: ``BucketARN`` or ``Bucket``: the field the bucket came from, for errors.
    bucket_field: str = field(default="Bucket", compare=False)

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.reference_schema.record_columns


@dataclass(frozen=True, slots=True)
class Output:
    name: str
    topic: str
    record_format_type: OutputFormat = OutputFormat.JSON
    path: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class ErrorOutput:
    topic: str
    record_format_type: OutputFormat = OutputFormat.JSON


@dataclass(frozen=True, slots=True)
class EventTimeConfig:
    allowed_lateness_ms: int = DEFAULT_ALLOWED_LATENESS_MS
    #: A partition that receives nothing for this long no longer holds back event time.
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """The ``Runtime`` section: the runtime knobs a SQL application sets, with the runtime's
    defaults (:mod:`pipelines.runtime.config`), and two of its own. The worker's
    ``RuntimeConfig`` is made from it (:mod:`pipelines.sql.application`)."""

    commit_interval_ms: int = DEFAULT_COMMIT_INTERVAL_MS
    batch_max_records: int = DEFAULT_BATCH_MAX_RECORDS
    processing_guarantee: ProcessingGuarantee = ProcessingGuarantee.EXACTLY_ONCE
    transaction_timeout_ms: int = DEFAULT_TRANSACTION_TIMEOUT_MS
    session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES


@dataclass(frozen=True, slots=True)
class ApplicationConfig:
    application_name: str
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    reference_data_sources: tuple[ReferenceDataSource, ...]
    error_output: ErrorOutput
    event_time: EventTimeConfig = EventTimeConfig()
    runtime: RuntimeOptions = RuntimeOptions()
    application_description: str = ""
    #: The SQL file; ``None`` when the code came inline (:func:`import_kda_description`).
    code_path: Path | None = None
    code_text: str | None = field(default=None, repr=False)
    base_dir: Path = field(default=Path("."), compare=False)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], base_dir: Path | str = ".", *, check_code: bool = True
    ) -> ApplicationConfig:
        """Validate ``data`` (the parsed YAML/JSON). ``ApplicationCode`` is resolved against
        ``base_dir`` and, with ``check_code``, must exist."""
        return _parse_application(_Reader(data, ""), Path(base_dir), check_code=check_code)

    # -- what the planner and runtime ask -------------------------------------------------
    @property
    def group_id(self) -> str:
        return self.application_name

    @property
    def transactional_id_prefix(self) -> str:
        return self.application_name

    @property
    def internal_topic_prefix(self) -> str:
        return self.application_name + "-"

    def read_code(self) -> str:
        """The SQL text of the application."""
        if self.code_text is not None:
            return self.code_text
        assert self.code_path is not None
        try:
            return self.code_path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("ApplicationCode", f"cannot read {self.code_path}: {exc}") from None

    def input_for_stream(self, stream_name: str) -> Input | None:
        """The input whose in-application stream is ``stream_name`` (exact), or None."""
        return next((i for i in self.inputs if i.stream_name == stream_name), None)

    def reference_table(self, table_name: str) -> ReferenceDataSource | None:
        return next((r for r in self.reference_data_sources if r.table_name == table_name), None)

    def outputs_for_stream(self, stream_name: str) -> tuple[Output, ...]:
        return tuple(o for o in self.outputs if o.name == stream_name)

    def to_mapping(self) -> dict[str, Any]:
        """The configuration as ``application.yaml`` data (KDA names); ``ApplicationCode`` is
        the file name, or ``app.sql`` when the code is inline (write it there)."""
        from pipelines.sql.kda_import import to_mapping

        return to_mapping(self)


# -- reading ----------------------------------------------------------------------------


class _Reader:
    """One mapping of the configuration, with its dotted path; rejects unknown keys."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path or "<root>", f"expected a mapping, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def check_keys(self, known: Sequence[str]) -> None:
        for key in self.data:
            if key not in known:
                raise ConfigError(
                    self.name(str(key)), f"unknown setting; known: {', '.join(known)}"
                )

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def string(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise ConfigError(self.name(key), "is required")
            return default
        if not isinstance(value, str):
            raise ConfigError(self.name(key), f"expected a string, got {_kind(value)}")
        return value

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.name(key), f"expected an integer, got {value!r}")
        if value < minimum:
            raise ConfigError(self.name(key), f"must be at least {minimum}, got {value}")
        return value

    def choice(self, key: str, enum: type[StrEnum], default: StrEnum | None = None) -> Any:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise ConfigError(self.name(key), f"is required: one of {_values(enum)}")
            return default
        if isinstance(value, str):
            for member in enum:
                if member.value == value.upper():
                    return member
        raise ConfigError(self.name(key), f"one of {_values(enum)}, got {value!r}")

    def section(self, key: str, *, required: bool = False) -> _Reader:
        value = self.data.get(key)
        if value is None:
            if required:
                raise ConfigError(self.name(key), "is required")
            value = {}
        return _Reader(value, self.name(key))

    def items(self, key: str, *, required: bool = False) -> list[_Reader]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise ConfigError(self.name(key), "is required: a list")
            return []
        if not isinstance(value, list):
            raise ConfigError(self.name(key), f"expected a list, got {_kind(value)}")
        return [_Reader(item, f"{self.name(key)}[{i}]") for i, item in enumerate(value)]


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _values(enum: type[StrEnum]) -> str:
    return " | ".join(m.value for m in enum)


def _kda_name(r: _Reader, key: str, *, max_len: int) -> str:
    value = r.string(key)
    if not _KDA_NAME.match(value) or len(value) > max_len:
        raise ConfigError(
            r.name(key),
            f"expected 1-{max_len} characters without whitespace, '-', '<', '>' or '&', "
            f"got {value!r}",
        )
    return value


def _topic(r: _Reader, key: str, default: str | None = None) -> str:
    value = r.string(key, default)
    if not _TOPIC.match(value) or value in (".", ".."):
        raise ConfigError(
            r.name(key), f"expected a Kafka topic name ([A-Za-z0-9._-]), got {value!r}"
        )
    return value


_APP_KEYS = (
    "ApplicationName", "ApplicationDescription", "ApplicationCode", "Inputs",
    "ReferenceDataSources", "Outputs", "ErrorOutput", "EventTime", "Runtime",
)


def _parse_application(r: _Reader, base_dir: Path, *, check_code: bool) -> ApplicationConfig:
    r.check_keys(_APP_KEYS)
    name = r.string("ApplicationName")
    if not _APP_NAME.match(name):
        raise ConfigError(
            "ApplicationName", f"expected 1-128 characters of [A-Za-z0-9_.-], got {name!r}"
        )
    description = r.string("ApplicationDescription", "")
    code = r.string("ApplicationCode", DEFAULT_CODE_FILE)
    code_path = (base_dir / code).resolve()
    if check_code and not code_path.is_file():
        raise ConfigError("ApplicationCode", f"SQL file not found: {code_path}")
    if check_code and code_path.stat().st_size > MAX_CODE_BYTES:
        raise ConfigError("ApplicationCode", f"larger than KDA's limit of {MAX_CODE_BYTES} bytes")

    inputs = tuple(_parse_input(i) for i in r.items("Inputs", required=True))
    if not inputs:
        raise ConfigError("Inputs", "at least one input is required")
    references = tuple(_parse_reference(i) for i in r.items("ReferenceDataSources"))
    outputs = tuple(_parse_output(i) for i in r.items("Outputs"))

    err = r.section("ErrorOutput")
    err.check_keys(("Topic", "RecordFormatType"))
    error_output = ErrorOutput(
        _topic(err, "Topic", f"{name}-errors"),
        err.choice("RecordFormatType", OutputFormat, OutputFormat.JSON),
    )
    et = r.section("EventTime")
    et.check_keys(("AllowedLatenessMs", "IdleTimeoutMs"))
    event_time = EventTimeConfig(
        et.integer("AllowedLatenessMs", DEFAULT_ALLOWED_LATENESS_MS),
        et.integer("IdleTimeoutMs", DEFAULT_IDLE_TIMEOUT_MS, minimum=1),
    )
    rt = r.section("Runtime")
    rt.check_keys((
        "CommitIntervalMs", "BatchMaxRecords", "ProcessingGuarantee", "TransactionTimeoutMs",
        "SessionTimeoutMs", "MaxRecordBytes",
    ))  # fmt: skip
    runtime = RuntimeOptions(
        rt.integer("CommitIntervalMs", DEFAULT_COMMIT_INTERVAL_MS, minimum=1),
        rt.integer("BatchMaxRecords", DEFAULT_BATCH_MAX_RECORDS, minimum=1),
        rt.choice("ProcessingGuarantee", ProcessingGuarantee, ProcessingGuarantee.EXACTLY_ONCE),
        _bounded(rt, "TransactionTimeoutMs", DEFAULT_TRANSACTION_TIMEOUT_MS,
                 TRANSACTION_TIMEOUT_RANGE_MS),
        _bounded(rt, "SessionTimeoutMs", DEFAULT_SESSION_TIMEOUT_MS, SESSION_TIMEOUT_RANGE_MS),
        _bounded(rt, "MaxRecordBytes", DEFAULT_MAX_RECORD_BYTES, MAX_RECORD_BYTES_RANGE),
    )  # fmt: skip
    if runtime.commit_interval_ms * 4 > runtime.transaction_timeout_ms:
        raise ConfigError(
            rt.name("CommitIntervalMs"),
            f"at most a quarter of TransactionTimeoutMs ({runtime.transaction_timeout_ms})",
        )
    _check_names_and_topics(inputs, references, outputs, error_output)
    return ApplicationConfig(
        application_name=name,
        inputs=inputs,
        outputs=outputs,
        reference_data_sources=references,
        error_output=error_output,
        event_time=event_time,
        runtime=runtime,
        application_description=description,
        code_path=code_path,
        base_dir=base_dir,
    )


def _bounded(r: _Reader, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = r.integer(key, default, minimum=bounds[0])
    if value > bounds[1]:
        raise ConfigError(r.name(key), f"must be at most {bounds[1]}, got {value}")
    return value


def _check_names_and_topics(
    inputs: tuple[Input, ...],
    references: tuple[ReferenceDataSource, ...],
    outputs: tuple[Output, ...],
    error_output: ErrorOutput,
) -> None:
    seen: dict[str, str] = {}
    for i, inp in enumerate(inputs):
        where = f"Inputs[{i}].NamePrefix"
        if inp.stream_name in seen:
            raise ConfigError(where, f"stream {inp.stream_name} is also {seen[inp.stream_name]}")
        seen[inp.stream_name] = where
    for i, ref in enumerate(references):
        where = f"ReferenceDataSources[{i}].TableName"
        if ref.table_name in seen:
            raise ConfigError(where, f"{ref.table_name} is also {seen[ref.table_name]}")
        seen[ref.table_name] = where
    input_topics = {inp.topic for inp in inputs}
    pairs: set[tuple[str, str]] = set()
    for i, out in enumerate(outputs):
        if out.topic in input_topics:
            raise ConfigError(f"Outputs[{i}].Topic", f"{out.topic} is also an input topic")
        if (out.name, out.topic) in pairs:
            raise ConfigError(f"Outputs[{i}]", f"{out.name} → {out.topic} is listed twice")
        pairs.add((out.name, out.topic))
    if error_output.topic in input_topics | {o.topic for o in outputs}:
        raise ConfigError(
            "ErrorOutput.Topic", f"{error_output.topic} is also an input or output topic"
        )


_INPUT_KEYS = ("NamePrefix", "Topic", "StartingPosition", "PartitionKey", "InputSchema")


def _parse_input(r: _Reader) -> Input:
    r.check_keys(_INPUT_KEYS)
    prefix = _kda_name(r, "NamePrefix", max_len=32)
    topic = _topic(r, "Topic")
    position = r.choice("StartingPosition", StartingPosition, StartingPosition.TRIM_HORIZON)
    schema = _parse_schema(r.section("InputSchema", required=True), reference=False)
    raw_key = r.get("PartitionKey")
    keys: tuple[str, ...]
    if raw_key is None:
        keys = ()
    elif isinstance(raw_key, str):
        keys = (raw_key,)
    elif isinstance(raw_key, list) and raw_key and all(isinstance(k, str) for k in raw_key):
        keys = tuple(raw_key)
    else:
        raise ConfigError(r.name("PartitionKey"), f"expected column names, got {raw_key!r}")
    names = [c.name for c in schema.record_columns]
    for key in keys:
        if key not in names:
            raise ConfigError(
                r.name("PartitionKey"), f"{key!r} is not a column; columns: {', '.join(names)}"
            )
    return Input(prefix, topic, schema, position, keys, path=r.path)


def _parse_reference(r: _Reader) -> ReferenceDataSource:
    r.check_keys(("TableName", "S3ReferenceDataSource", "ReferenceSchema"))
    table = _kda_name(r, "TableName", max_len=32)
    s3 = r.section("S3ReferenceDataSource", required=True)
    s3.check_keys(("BucketARN", "Bucket", "FileKey", "ReferenceRoleARN"))
    if s3.get("BucketARN") is not None and s3.get("Bucket") is not None:
        raise ConfigError(s3.name("Bucket"), "set only one of BucketARN, Bucket")
    if s3.get("BucketARN") is not None:
        arn = s3.string("BucketARN")
        match = _BUCKET_ARN.match(arn)
        if not match:
            raise ConfigError(s3.name("BucketARN"), f"expected arn:aws:s3:::<bucket>, got {arn!r}")
        bucket, bucket_field = match.group(1), "BucketARN"
    else:
        bucket, bucket_field = s3.string("Bucket"), "Bucket"
    if not _BUCKET.match(bucket):
        raise ConfigError(s3.name(bucket_field), f"not an S3 bucket name: {bucket!r}")
    key = s3.string("FileKey")
    if not key or len(key.encode()) > 1024:
        raise ConfigError(s3.name("FileKey"), "expected an object key of 1-1024 bytes")
    s3.string("ReferenceRoleARN", "")  # accepted for migration, not used
    schema = _parse_schema(r.section("ReferenceSchema", required=True), reference=True)
    return ReferenceDataSource(table, bucket, key, schema, path=r.path, bucket_field=bucket_field)


def _parse_output(r: _Reader) -> Output:
    r.check_keys(("Name", "Topic", "DestinationSchema"))
    name = _kda_name(r, "Name", max_len=32)
    topic = _topic(r, "Topic")
    dest = r.section("DestinationSchema")
    dest.check_keys(("RecordFormatType",))
    return Output(
        name, topic, dest.choice("RecordFormatType", OutputFormat, OutputFormat.JSON), path=r.path
    )


def _parse_schema(r: _Reader, *, reference: bool) -> InputSchema:
    r.check_keys(("RecordFormat", "RecordEncoding", "RecordColumns"))
    encoding = r.string("RecordEncoding", ENCODING)
    if encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        raise ConfigError(r.name("RecordEncoding"), f"only UTF-8 is supported, got {encoding!r}")
    fmt = _parse_format(r.section("RecordFormat", required=True), reference=reference)
    columns = tuple(
        _parse_column(c, fmt) for c in r.items("RecordColumns", required=True)
    )
    if not columns:
        raise ConfigError(r.name("RecordColumns"), "at least one column is required")
    seen: set[str] = set()
    for i, col in enumerate(columns):
        if col.name in seen:
            raise ConfigError(f"{r.name('RecordColumns')}[{i}].Name", f"{col.name} is repeated")
        seen.add(col.name)
    if fmt.record_format_type is RecordFormatType.JSON:
        _check_flattening(r, columns)
    return InputSchema(fmt, columns, ENCODING, path=r.path)


def _parse_format(r: _Reader, *, reference: bool) -> RecordFormat:
    r.check_keys(("RecordFormatType", "MappingParameters", "AvroSchema"))
    kind: RecordFormatType = r.choice("RecordFormatType", RecordFormatType)
    if reference and kind is RecordFormatType.AVRO:
        raise ConfigError(r.name("RecordFormatType"), "reference data is JSON or CSV")
    params = r.section("MappingParameters")
    params.check_keys(("JSONMappingParameters", "CSVMappingParameters"))
    json_params = params.section("JSONMappingParameters")
    csv_params = params.section("CSVMappingParameters")
    if kind is not RecordFormatType.JSON and json_params.data:
        raise ConfigError(json_params.path, f"only for JSON, the format is {kind}")
    if kind is not RecordFormatType.CSV and csv_params.data:
        raise ConfigError(csv_params.path, f"only for CSV, the format is {kind}")
    json_params.check_keys(("RecordRowPath",))
    csv_params.check_keys(("RecordRowDelimiter", "RecordColumnDelimiter", "SkipHeaderLines"))
    row_path = json_params.string("RecordRowPath", DEFAULT_ROW_PATH)
    try:
        compiled = compile_path(row_path)
    except ValueError as exc:
        raise ConfigError(json_params.name("RecordRowPath"), str(exc)) from None
    if compiled.flatten is not None or compiled.general:
        raise ConfigError(
            json_params.name("RecordRowPath"),
            "expected $, a member path ($.records) or an array of rows ($.records[0:])",
        )
    row_delim = csv_params.string("RecordRowDelimiter", DEFAULT_ROW_DELIMITER)
    col_delim = csv_params.string("RecordColumnDelimiter", DEFAULT_COLUMN_DELIMITER)
    for key, value in (("RecordRowDelimiter", row_delim), ("RecordColumnDelimiter", col_delim)):
        if not value:
            raise ConfigError(csv_params.name(key), "must not be empty")
        if '"' in value:
            raise ConfigError(csv_params.name(key), "must not contain the quote character '\"'")
    if row_delim == col_delim:
        raise ConfigError(csv_params.name("RecordColumnDelimiter"), "same as RecordRowDelimiter")
    skip = csv_params.integer("SkipHeaderLines", 0)
    avro_schema: str | None = None
    if kind is RecordFormatType.AVRO:
        avro_schema = r.string("AvroSchema")
        from schemas import schema_names

        if avro_schema not in schema_names():
            raise ConfigError(
                r.name("AvroSchema"),
                f"unknown schema {avro_schema!r}; known: {', '.join(schema_names())}",
            )
    elif r.get("AvroSchema") is not None:
        raise ConfigError(r.name("AvroSchema"), f"only for AVRO, the format is {kind}")
    return RecordFormat(kind, row_path, row_delim, col_delim, skip, avro_schema)


def _parse_column(r: _Reader, fmt: RecordFormat) -> Column:
    r.check_keys(("Name", "SqlType", "Mapping", "IsDropped"))
    name = _kda_name(r, "Name", max_len=256)
    type_text = r.string("SqlType")
    try:
        sql_type = parse_type(type_text)
    except ValueError as exc:
        raise ConfigError(r.name("SqlType"), str(exc)) from None
    if r.get("IsDropped") not in (None, False):
        raise ConfigError(r.name("IsDropped"), "dropped columns are not supported; remove it")
    mapping = r.get("Mapping")
    if mapping is not None and not isinstance(mapping, str):
        raise ConfigError(r.name("Mapping"), f"expected a string, got {_kind(mapping)}")
    mapping = mapping or None
    kind = fmt.record_format_type
    if kind is RecordFormatType.CSV:
        if mapping is not None:
            raise ConfigError(r.name("Mapping"), "CSV columns are positional: remove Mapping")
    elif kind is RecordFormatType.JSON:
        if mapping is None:
            raise ConfigError(r.name("Mapping"), "is required for JSON: a JSONPath like $.name")
        _compile(r, mapping)
    else:
        mapping = _avro_mapping(r, name, mapping, fmt.avro_schema or "")
    return Column(name, sql_type, mapping)


def _compile(r: _Reader, mapping: str) -> JsonPath:
    try:
        return compile_path(mapping)
    except ValueError as exc:
        raise ConfigError(r.name("Mapping"), str(exc)) from None


def _avro_mapping(r: _Reader, name: str, mapping: str | None, schema_name: str) -> str:
    """The JSONPath of an AVRO column: ``Mapping`` as a path or a field name, or the field
    named like the column (ignoring case)."""
    from schemas import load_schema

    fields = [f["name"] for f in load_schema(schema_name)["fields"]]
    if mapping is None:
        matches = [f for f in fields if f.lower() == name.lower()]
        if not matches:
            raise ConfigError(
                r.name("Mapping"),
                f"no field of {schema_name} is named {name} (ignoring case); "
                f"set Mapping to one of: {', '.join(fields)}",
            )
        return f"$['{matches[0]}']"
    path = mapping if mapping.startswith("$") else f"$['{mapping}']"
    compiled = _compile(r, path)
    first = re.match(r"""^\$(?:\.([^.\[\]'"]+)|\[\s*['"]([^'"]*)['"]\s*\])""", path)
    top = (first.group(1) or first.group(2)) if first else None
    if not compiled.general and top is not None and top not in fields:
        raise ConfigError(
            r.name("Mapping"), f"{schema_name} has no field {top!r}; fields: {', '.join(fields)}"
        )
    return path


def _check_flattening(r: _Reader, columns: tuple[Column, ...]) -> None:
    arrays: dict[str, int] = {}
    for i, col in enumerate(columns):
        compiled = compile_path(col.mapping or "$")
        if compiled.flatten is not None:
            arrays.setdefault(compiled.flatten[0], i)
    if len(arrays) > 1:
        second = sorted(arrays.values())[1]
        raise ConfigError(
            f"{r.name('RecordColumns')}[{second}].Mapping",
            "only one array can be flattened per schema (as in KDA): "
            + ", ".join(sorted(arrays)),
        )


# -- loading ------------------------------------------------------------------------------

_OVERRIDES: dict[str, tuple[str, ...]] = {
    "application_name": ("ApplicationName",),
    "application_code": ("ApplicationCode",),
    "error_topic": ("ErrorOutput", "Topic"),
    "allowed_lateness_ms": ("EventTime", "AllowedLatenessMs"),
    "idle_timeout_ms": ("EventTime", "IdleTimeoutMs"),
    "commit_interval_ms": ("Runtime", "CommitIntervalMs"),
    "batch_max_records": ("Runtime", "BatchMaxRecords"),
    "processing_guarantee": ("Runtime", "ProcessingGuarantee"),
}
OVERRIDES = (*sorted(_OVERRIDES), "starting_position")


def load_application(path: Path | str, **overrides: Any) -> ApplicationConfig:
    """Read ``path`` (a folder holding ``application.yaml``, or the file itself).

    ``overrides`` (command-line flags; ``None`` values are ignored) replace settings before
    validation: ``application_name``, ``application_code``, ``error_topic``,
    ``allowed_lateness_ms``, ``idle_timeout_ms``, ``commit_interval_ms``,
    ``batch_max_records``, ``processing_guarantee`` and ``starting_position`` (every input).
    """
    path = Path(path)
    if path.is_dir():
        found = [path / name for name in CONFIG_FILES if (path / name).is_file()]
        if not found:
            raise ConfigError(str(path), f"no {' or '.join(CONFIG_FILES)} in this folder")
        file = found[0]
    else:
        file = path
    if not file.is_file():
        raise ConfigError(str(file), "application config not found")
    try:
        text = file.read_text("utf-8")
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(str(file), f"not valid {file.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(file), "expected a mapping at the top level")
    data = _apply_overrides(data, overrides)
    return ApplicationConfig.from_mapping(data, file.parent)


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in overrides.items() if v is not None}
    for key in clean:
        if key not in OVERRIDES:
            raise ConfigError(key, f"unknown override; known: {', '.join(OVERRIDES)}")
    data = json.loads(json.dumps(data, default=str))  # a deep copy we may change
    for key, value in clean.items():
        if key == "starting_position":
            for item in data.get("Inputs") or []:
                if isinstance(item, dict):
                    item["StartingPosition"] = value
            continue
        *parents, last = _OVERRIDES[key]
        target = data
        for parent in parents:
            if not isinstance(target.get(parent), dict):
                target[parent] = {}
            target = target[parent]
        target[last] = value
    return data


def import_kda_description(
    data: Mapping[str, Any], topic_map: Mapping[str, str], *, application_name: str | None = None
) -> ApplicationConfig:
    """An :class:`ApplicationConfig` from ``aws kinesisanalytics describe-application``; see
    :func:`pipelines.sql.kda_import.import_kda_description`."""
    from pipelines.sql.kda_import import import_kda_description as _import

    return _import(data, topic_map, application_name=application_name)
