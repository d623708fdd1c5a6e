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
              TransactionTimeoutMs: 30000, SessionTimeoutMs: 10000,
              RepartitionPartitions: 12}    # default: the input topic's partition count

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

:func:`load_application` reads a folder or file. The schemas of inputs and reference tables
are :mod:`pipelines.sql.record_schema`'s; :mod:`pipelines.sql.kda_import` turns the JSON of
``aws kinesisanalytics describe-application`` into the same configuration, and the
configuration back into ``application.yaml`` data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ground.config_reader import TypedReader, load_document
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
from pipelines.sql.record_schema import (
    Column,
    InputSchema,
    RecordFormat,
    RecordFormatType,
    kda_name,
    parse_schema,
)

__all__ = [
    "ApplicationConfig",
    "CONFIG_FILES",
    "Column",
    "DEFAULT_CODE_FILE",
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
    "apply_overrides",
    "load_application",
]

CONFIG_FILES = ("application.yaml", "application.yml", "application.json")
DEFAULT_CODE_FILE = "app.sql"
IN_APP_STREAM_SUFFIX = "_001"
DEFAULT_ALLOWED_LATENESS_MS = 5_000
#: KDA's limit on one input row (512 KB); a larger record is a ``Record_Too_Large`` error row.
DEFAULT_MAX_RECORD_BYTES = 524_288
MAX_RECORD_BYTES_RANGE = (1, 8 * 1_048_576)
MAX_CODE_BYTES = 102_400  # KDA's limit on ApplicationCode
#: Kafka's own limits make more partitions per topic impractical on one broker
MAX_REPARTITION_PARTITIONS = 10_000

_APP_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_BUCKET_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:s3:::([^/]+)$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


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
    #: Partitions of each repartition topic (``None``: as many as the input topic has; the
    #: largest of them with several inputs). The parallelism of the stages behind them.
    repartition_partitions: int | None = None


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
    #: The SQL file; ``None`` when the code came inline (``kda_import.import_kda_description``).
    code_path: Path | None = None
    code_text: str | None = field(default=None, repr=False)
    base_dir: Path = field(default=Path("."), compare=False)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], base_dir: Path | str = ".", *, check_code: bool = True
    ) -> ApplicationConfig:
        """Validate ``data`` (the parsed YAML/JSON). ``ApplicationCode`` is resolved against
        ``base_dir`` and, with ``check_code``, must exist."""
        return _parse_application(TypedReader(data, ""), Path(base_dir), check_code=check_code)

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


# -- reading ----------------------------------------------------------------------------


def _topic(r: TypedReader, key: str, default: str | None = None) -> str:
    value = r.string(key, default)
    if not _TOPIC.match(value) or value in (".", ".."):
        raise ConfigError(
            r.name(key), f"expected a Kafka topic name ([A-Za-z0-9._-]), got {value!r}"
        )
    return value


_APP_KEYS = (
    "ApplicationName",
    "ApplicationDescription",
    "ApplicationCode",
    "Inputs",
    "ReferenceDataSources",
    "Outputs",
    "ErrorOutput",
    "EventTime",
    "Runtime",
)


def _parse_application(r: TypedReader, base_dir: Path, *, check_code: bool) -> ApplicationConfig:
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
        et.integer("AllowedLatenessMs", 0, None, DEFAULT_ALLOWED_LATENESS_MS),
        et.integer("IdleTimeoutMs", 1, None, DEFAULT_IDLE_TIMEOUT_MS),
    )
    rt = r.section("Runtime")
    rt.check_keys((
        "CommitIntervalMs", "BatchMaxRecords", "ProcessingGuarantee", "TransactionTimeoutMs",
        "SessionTimeoutMs", "MaxRecordBytes", "RepartitionPartitions",
    ))  # fmt: skip
    runtime = RuntimeOptions(
        rt.integer("CommitIntervalMs", 1, None, DEFAULT_COMMIT_INTERVAL_MS),
        rt.integer("BatchMaxRecords", 1, None, DEFAULT_BATCH_MAX_RECORDS),
        rt.choice("ProcessingGuarantee", ProcessingGuarantee, ProcessingGuarantee.EXACTLY_ONCE),
        _bounded(rt, "TransactionTimeoutMs", DEFAULT_TRANSACTION_TIMEOUT_MS,
                 TRANSACTION_TIMEOUT_RANGE_MS),
        _bounded(rt, "SessionTimeoutMs", DEFAULT_SESSION_TIMEOUT_MS, SESSION_TIMEOUT_RANGE_MS),
        _bounded(rt, "MaxRecordBytes", DEFAULT_MAX_RECORD_BYTES, MAX_RECORD_BYTES_RANGE),
        rt.integer("RepartitionPartitions", 1, MAX_REPARTITION_PARTITIONS),
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


def _bounded(r: TypedReader, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = r.integer(key, bounds[0], None, default)
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


def _parse_input(r: TypedReader) -> Input:
    r.check_keys(_INPUT_KEYS)
    prefix = kda_name(r, "NamePrefix", max_len=32)
    topic = _topic(r, "Topic")
    position = r.choice("StartingPosition", StartingPosition, StartingPosition.TRIM_HORIZON)
    schema = parse_schema(r.section("InputSchema", required=True), reference=False)
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


def _parse_reference(r: TypedReader) -> ReferenceDataSource:
    r.check_keys(("TableName", "S3ReferenceDataSource", "ReferenceSchema"))
    table = kda_name(r, "TableName", max_len=32)
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
    schema = parse_schema(r.section("ReferenceSchema", required=True), reference=True)
    return ReferenceDataSource(table, bucket, key, schema, path=r.path, bucket_field=bucket_field)


def _parse_output(r: TypedReader) -> Output:
    r.check_keys(("Name", "Topic", "DestinationSchema"))
    name = kda_name(r, "Name", max_len=32)
    topic = _topic(r, "Topic")
    dest = r.section("DestinationSchema")
    dest.check_keys(("RecordFormatType",))
    return Output(
        name, topic, dest.choice("RecordFormatType", OutputFormat, OutputFormat.JSON), path=r.path
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
    data = load_document(file)
    if not isinstance(data, dict):
        raise ConfigError(str(file), "expected a mapping at the top level")
    data = apply_overrides(data, overrides)
    return ApplicationConfig.from_mapping(data, file.parent)


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the ``application.yaml`` data ``data`` with ``overrides`` (see
    :func:`load_application`) applied."""
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
