"""Migration from KDA: ``describe-application`` output in, ``application.yaml`` data out.

:func:`import_kda_description` reads the JSON of ``aws kinesisanalytics describe-application``
(v1 ``ApplicationDetail``, or v2's ``SqlApplicationConfigurationDescription``) and maps Kinesis
streams and Firehose delivery streams to Kafka topics. :func:`to_mapping` writes any
:class:`~pipelines.sql.appconfig.ApplicationConfig` back as ``application.yaml`` data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ground.errors import ConfigError
from pipelines.sql.appconfig import DEFAULT_CODE_FILE, ApplicationConfig
from pipelines.sql.record_schema import ENCODING, InputSchema, RecordFormatType

__all__ = ["import_kda_description", "to_mapping"]


def import_kda_description(
    data: Mapping[str, Any],
    topic_map: Mapping[str, str],
    *,
    application_name: str | None = None,
) -> ApplicationConfig:
    """An :class:`ApplicationConfig` from ``aws kinesisanalytics describe-application``.

    ``data`` is the whole response or its ``ApplicationDetail`` (the v2 API's
    ``SqlApplicationConfigurationDescription`` is read too). ``topic_map`` maps the names of
    Kinesis streams and Firehose delivery streams (the last part of their ARNs) to Kafka
    topics; every one the application uses must be there. An output named ``error_stream``
    becomes ``ErrorOutput``. The SQL code comes inline (:meth:`ApplicationConfig.read_code`).
    """
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
    name = application_name or detail.get("ApplicationName")

    def topic_for(where: str, description: Mapping[str, Any]) -> str:
        for kind in ("KinesisStreams", "KinesisFirehose"):
            for suffix in ("InputDescription", "OutputDescription"):
                found = description.get(kind + suffix)
                if isinstance(found, Mapping) and found.get("ResourceARN"):
                    stream = str(found["ResourceARN"]).rsplit("/", 1)[-1]
                    if stream not in topic_map:
                        raise ConfigError(
                            f"{where}.{kind}{suffix}.ResourceARN",
                            f"no topic for stream {stream!r} in topic_map",
                        )
                    return topic_map[stream]
        if description.get("LambdaOutputDescription"):
            raise ConfigError(
                f"{where}.LambdaOutputDescription", "Lambda outputs are not supported"
            )
        raise ConfigError(where, "no Kinesis stream or Firehose delivery stream")

    inputs = []
    for i, desc in enumerate(sql.get("InputDescriptions") or []):
        where = f"InputDescriptions[{i}]"
        if desc.get("InputProcessingConfigurationDescription"):
            raise ConfigError(
                f"{where}.InputProcessingConfigurationDescription",
                "preprocessing Lambda functions are not supported",
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
    for i, desc in enumerate(sql.get("OutputDescriptions") or []):
        where = f"OutputDescriptions[{i}]"
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
    if detail.get("ApplicationDescription"):
        mapping["ApplicationDescription"] = detail["ApplicationDescription"]
    if error_output:
        mapping["ErrorOutput"] = error_output
    config = ApplicationConfig.from_mapping(_strip_nulls(mapping), Path("."), check_code=False)
    if not isinstance(code, str):
        raise ConfigError("ApplicationCode", "the description holds no application code")
    return _replace_code(config, code)


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

