"""Migration from KDA: KDA's own JSON in, ``application.yaml`` data out.

:func:`import_kda_description` reads either JSON of the KDA API (the shapes of botocore's
``kinesisanalytics/2015-08-14`` model):

- ``aws kinesisanalytics describe-application`` output: ``DescribeApplicationResponse`` or
  its ``ApplicationDetail`` (``InputDescriptions``, ``OutputDescriptions``,
  ``ReferenceDataSourceDescriptions``; v2's ``SqlApplicationConfigurationDescription`` is read
  too);
- ``aws kinesisanalytics create-application --cli-input-json`` input: a
  ``CreateApplicationRequest`` (``Inputs``, ``Outputs``, ``ApplicationCode``).

Kinesis streams, Firehose delivery streams and Lambda functions become Kafka topics through a
topic map keyed by ARN or name. :func:`load_application_file` loads an application from an
``application.yaml`` or from a ``CreateApplicationRequest`` file (each resource's topic is then
its name), so ``sql check``/``explain``/``run`` take either. :func:`to_mapping` writes any
:class:`~pipelines.sql.appconfig.ApplicationConfig` back as ``application.yaml`` data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ground.config_reader import load_document
from ground.errors import ConfigError
from pipelines.sql.appconfig import (
    CONFIG_FILES,
    DEFAULT_CODE_FILE,
    ApplicationConfig,
    apply_overrides,
    load_application,
)
from pipelines.sql.record_schema import ENCODING, InputSchema, RecordFormatType

__all__ = [
    "import_kda_description",
    "is_create_application_request",
    "kda_resources",
    "load_application_file",
    "to_mapping",
]

#: the ``CreateApplicationRequest`` members (botocore's model); a document with only these
#: keys and an ``Inputs`` entry naming a Kinesis source is that request
_CREATE_KEYS = frozenset(
    {
        "ApplicationName",
        "ApplicationDescription",
        "Inputs",
        "Outputs",
        "CloudWatchLoggingOptions",
        "ApplicationCode",
        "Tags",
    }
)
_RESOURCE_KINDS = ("KinesisStreams", "KinesisFirehose", "Lambda")


@dataclass(frozen=True, slots=True)
class _Shape:
    """Where the two JSON shapes keep the same things."""

    inputs: str
    outputs: str
    suffix: str  # "Description" in describe-application, "" in create-application
    processing: str


_DESCRIBE = _Shape(
    "InputDescriptions",
    "OutputDescriptions",
    "Description",
    "InputProcessingConfigurationDescription",
)
_CREATE = _Shape("Inputs", "Outputs", "", "InputProcessingConfiguration")


def is_create_application_request(data: Any) -> bool:
    """Whether ``data`` is ``create-application --cli-input-json`` input (not application.yaml:
    its inputs name a Kinesis stream or Firehose delivery stream instead of a ``Topic``)."""
    if not isinstance(data, Mapping) or not set(data) <= _CREATE_KEYS:
        return False
    items = [*(data.get("Inputs") or []), *(data.get("Outputs") or [])]
    return any(
        isinstance(item, Mapping) and any(k.startswith(_RESOURCE_KINDS) for k in item)
        for item in items
    )


def _resource_name(arn: str) -> str:
    """``stream/NAME``, ``deliverystream/NAME`` or ``function:NAME[:qualifier]`` → ``NAME``."""
    if arn.startswith("arn:") and ":function:" in arn:
        return arn.split(":function:", 1)[1].split(":", 1)[0]
    return arn.rsplit("/", 1)[-1]


def _arns(item: Mapping[str, Any], suffix: str) -> list[tuple[str, str]]:
    """(field, ARN) of the Kinesis stream, delivery stream or function ``item`` names."""
    found = []
    for kind in _RESOURCE_KINDS:
        for direction in ("Input", "Output"):
            key = f"{kind}{direction}{suffix}"
            value = item.get(key)
            if isinstance(value, Mapping) and value.get("ResourceARN"):
                found.append((key, str(value["ResourceARN"])))
    return found


def _shape_and_sql(data: Mapping[str, Any]) -> tuple[_Shape, Mapping[str, Any], Any]:
    """The shape, the mapping holding inputs and outputs, and the application code."""
    if is_create_application_request(data):
        return _CREATE, data, data.get("ApplicationCode")
    detail = data.get("ApplicationDetail", data)
    if not isinstance(detail, Mapping):
        raise ConfigError("ApplicationDetail", "expected a mapping")
    sql = detail.get("ApplicationConfigurationDescription", {}).get(
        "SqlApplicationConfigurationDescription", detail
    )
    code = detail.get("ApplicationCode")
    if code is None:  # v2
        code = (
            detail.get("ApplicationConfigurationDescription", {})
            .get("ApplicationCodeConfigurationDescription", {})
            .get("CodeContentDescription", {})
            .get("TextContent")
        )
    return _DESCRIBE, sql, code


def kda_resources(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (ARN, name) of a stream, delivery stream or function the JSON names, in order."""
    shape, sql, _ = _shape_and_sql(data)
    found: list[tuple[str, str]] = []
    for key in (shape.inputs, shape.outputs):
        for item in sql.get(key) or []:
            if isinstance(item, Mapping):
                found += [(arn, _resource_name(arn)) for _, arn in _arns(item, shape.suffix)]
    return list(dict.fromkeys(found))


def import_kda_description(
    data: Mapping[str, Any],
    topic_map: Mapping[str, str],
    *,
    application_name: str | None = None,
    topics_default_to_names: bool = False,
) -> ApplicationConfig:
    """An :class:`ApplicationConfig` from KDA's JSON (see the module docstring).

    ``topic_map`` maps Kinesis streams, Firehose delivery streams and Lambda functions, by ARN
    or by name (the last part of the ARN), to Kafka topics. Every one the application uses
    must be there, unless ``topics_default_to_names``: then an unmapped one's topic is its
    name. An output named ``error_stream`` becomes ``ErrorOutput``. The SQL code comes inline
    (:meth:`ApplicationConfig.read_code`).
    """
    mapping, code = _application_mapping(
        data, topic_map, topics_default_to_names=topics_default_to_names
    )
    if application_name:
        mapping["ApplicationName"] = application_name
    config = ApplicationConfig.from_mapping(mapping, Path("."), check_code=False)
    return _replace_code(config, code)


def _application_mapping(
    data: Mapping[str, Any], topic_map: Mapping[str, str], *, topics_default_to_names: bool
) -> tuple[dict[str, Any], str]:
    shape, sql, code = _shape_and_sql(data)
    name = (data.get("ApplicationDetail") or data).get("ApplicationName")
    description = (data.get("ApplicationDetail") or data).get("ApplicationDescription")

    def topic_for(where: str, item: Mapping[str, Any]) -> str:
        found = _arns(item, shape.suffix)
        if not found:
            raise ConfigError(where, "no Kinesis stream, Firehose delivery stream or Lambda")
        key, arn = found[0]
        stream = _resource_name(arn)
        for candidate in (arn, stream):
            if candidate in topic_map:
                return topic_map[candidate]
        if topics_default_to_names:
            return stream
        raise ConfigError(
            f"{where}.{key}.ResourceARN", f"no topic for {stream!r} ({arn}) in the topic map"
        )

    inputs = []
    for i, desc in enumerate(sql.get(shape.inputs) or []):
        where = f"{shape.inputs}[{i}]"
        if desc.get(shape.processing):
            raise ConfigError(
                f"{where}.{shape.processing}", "preprocessing Lambda functions are not supported"
            )
        count = (desc.get("InputParallelism") or {}).get("Count", 1)
        if count != 1:
            raise ConfigError(
                f"{where}.InputParallelism.Count", f"only 1 is supported, got {count}"
            )
        item: dict[str, Any] = {
            "NamePrefix": desc.get("NamePrefix"),
            "Topic": topic_for(where, desc),
            "InputSchema": desc.get("InputSchema"),
        }
        position = (desc.get("InputStartingPositionConfiguration") or {}).get(
            "InputStartingPosition"
        )
        if position:
            item["StartingPosition"] = position
        inputs.append(item)
    outputs, error_output = [], None
    for i, desc in enumerate(sql.get(shape.outputs) or []):
        where = f"{shape.outputs}[{i}]"
        out = {
            "Name": desc.get("Name"),
            "Topic": topic_for(where, desc),
            "DestinationSchema": desc.get("DestinationSchema") or {},
        }
        if str(out["Name"]).lower() == "error_stream":
            error_output = {"Topic": out["Topic"], **out["DestinationSchema"]}
        else:
            outputs.append(out)
    references = []
    for desc in sql.get("ReferenceDataSourceDescriptions") or []:
        s3 = dict(desc.get("S3ReferenceDataSourceDescription") or {})
        references.append(
            {
                "TableName": desc.get("TableName"),
                "S3ReferenceDataSource": s3,
                "ReferenceSchema": desc.get("ReferenceSchema"),
            }
        )
    mapping: dict[str, Any] = {
        "ApplicationName": name,
        "Inputs": inputs,
        "Outputs": outputs,
        "ReferenceDataSources": references,
    }
    if description:
        mapping["ApplicationDescription"] = description
    if error_output:
        mapping["ErrorOutput"] = error_output
    if not isinstance(code, str):
        raise ConfigError("ApplicationCode", "the JSON holds no application code")
    return _strip_nulls(mapping), code


def load_application_file(path: Path | str, **overrides: Any) -> ApplicationConfig:
    """:func:`~pipelines.sql.appconfig.load_application`, which also takes a
    ``create-application --cli-input-json`` file (each stream's topic is its name; the code
    is ``ApplicationCode``, inline, unless the ``application_code`` override names a file)."""
    path = Path(path)
    file = path
    if path.is_dir():
        file = next((path / n for n in CONFIG_FILES if (path / n).is_file()), path)
    if not file.is_file():
        return load_application(path, **overrides)
    data = load_document(file)
    if not is_create_application_request(data):
        return load_application(path, **overrides)
    mapping, code = _application_mapping(data, {}, topics_default_to_names=True)
    mapping = apply_overrides(mapping, overrides)
    own_code = overrides.get("application_code") is not None
    config = ApplicationConfig.from_mapping(mapping, file.parent, check_code=own_code)
    return config if own_code else _replace_code(config, code)


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _replace_code(config: ApplicationConfig, code: str) -> ApplicationConfig:
    return replace(config, code_path=None, code_text=code)


# -- writing ------------------------------------------------------------------------------


def _schema_mapping(schema: InputSchema) -> dict[str, Any]:
    fmt = schema.record_format
    record_format: dict[str, Any] = {"RecordFormatType": fmt.record_format_type.value}
    if fmt.record_format_type is RecordFormatType.JSON:
        record_format["MappingParameters"] = {
            "JSONMappingParameters": {"RecordRowPath": fmt.record_row_path}
        }
    elif fmt.record_format_type is RecordFormatType.CSV:
        csv: dict[str, Any] = {
            "RecordRowDelimiter": fmt.record_row_delimiter,
            "RecordColumnDelimiter": fmt.record_column_delimiter,
        }
        if fmt.skip_header_lines:
            csv["SkipHeaderLines"] = fmt.skip_header_lines
        record_format["MappingParameters"] = {"CSVMappingParameters": csv}
    else:
        record_format["AvroSchema"] = fmt.avro_schema
    columns = []
    for col in schema.record_columns:
        item = {"Name": col.name, "SqlType": str(col.sql_type)}
        if col.mapping is not None:
            item["Mapping"] = col.mapping
        columns.append(item)
    return {"RecordFormat": record_format, "RecordEncoding": ENCODING, "RecordColumns": columns}


def to_mapping(c: ApplicationConfig) -> dict[str, Any]:
    """The configuration as ``application.yaml`` data (KDA names); ``ApplicationCode`` is the
    file name, or ``app.sql`` when the code is inline (write it there)."""
    out: dict[str, Any] = {"ApplicationName": c.application_name}
    if c.application_description:
        out["ApplicationDescription"] = c.application_description
    out["ApplicationCode"] = c.code_path.name if c.code_path is not None else DEFAULT_CODE_FILE
    out["Inputs"] = [
        {
            "NamePrefix": i.name_prefix,
            "Topic": i.topic,
            "StartingPosition": i.starting_position.value,
            **({"PartitionKey": list(i.partition_key)} if i.partition_key else {}),
            "InputSchema": _schema_mapping(i.input_schema),
        }
        for i in c.inputs
    ]
    if c.reference_data_sources:
        out["ReferenceDataSources"] = [
            {
                "TableName": r.table_name,
                "S3ReferenceDataSource": {"Bucket": r.bucket, "FileKey": r.file_key},
                "ReferenceSchema": _schema_mapping(r.reference_schema),
            }
            for r in c.reference_data_sources
        ]
    out["Outputs"] = [
        {
            "Name": o.name,
            "Topic": o.topic,
            "DestinationSchema": {"RecordFormatType": o.record_format_type.value},
        }
        for o in c.outputs
    ]
    out["ErrorOutput"] = {
        "Topic": c.error_output.topic,
        "RecordFormatType": c.error_output.record_format_type.value,
    }
    out["EventTime"] = {
        "AllowedLatenessMs": c.event_time.allowed_lateness_ms,
        "IdleTimeoutMs": c.event_time.idle_timeout_ms,
    }
    out["Runtime"] = {
        "CommitIntervalMs": c.runtime.commit_interval_ms,
        "BatchMaxRecords": c.runtime.batch_max_records,
        "ProcessingGuarantee": c.runtime.processing_guarantee.value,
        "TransactionTimeoutMs": c.runtime.transaction_timeout_ms,
        "SessionTimeoutMs": c.runtime.session_timeout_ms,
    }
    return out
