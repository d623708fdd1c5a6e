"""``ProcessingConfiguration`` → Shardline's ``processing:`` section.

Firehose's processors and their parameters (API reference, ``Processor`` and
``ProcessorParameter``; every ``ParameterValue`` is a string)::

    RecordDeAggregation     SubRecordType JSON|DELIMITED, Delimiter (base64)
                            → processing.deaggregation {sub_record_type, delimiter}
    Lambda                  LambdaArn, NumberOfRetries, BufferSizeInMBs, BufferIntervalInSeconds,
                            RoleArn (ignored)
                            → processing.hook {callable, retries, buffer_size_mb,
                              buffer_interval_ms}
    MetadataExtraction      MetadataExtractionQuery, JsonParsingEngine (JQ-1.6)
                            → processing.metadata_extraction {query}
    AppendDelimiterToRecord → processing.append_delimiter: true
    Decompression, CloudWatchLogProcessing → refused (CloudWatch Logs sources only)

A ``LambdaArn`` names a Python callable through the document's ``Shardline.Functions``
mapping, keyed by the full ARN or by the function name (the ARN's ``function:<name>`` part,
without a version or alias). A ``LambdaArn`` that is not an ARN at all, such as
``mypkg.transforms:handler``, is the callable itself.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from connectors.firehose_layout.reader import Node, Translation
from ground.errors import ConfigError

__all__ = ["PROCESSOR_PARAMETERS", "translate_processing"]

PROCESSOR_PARAMETERS: dict[str, tuple[str, ...]] = {
    "RecordDeAggregation": ("SubRecordType", "Delimiter"),
    "Lambda": ("LambdaArn", "NumberOfRetries", "BufferSizeInMBs", "BufferIntervalInSeconds",
               "RoleArn"),
    "MetadataExtraction": ("MetadataExtractionQuery", "JsonParsingEngine"),
    "AppendDelimiterToRecord": (),
}
REFUSED_PROCESSORS = ("Decompression", "CloudWatchLogProcessing")
JQ_ENGINE = "JQ-1.6"
_LAMBDA_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$")
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def translate_processing(
    node: Node, tr: Translation, target: str, functions: Mapping[str, str]
) -> None:
    """Translate ``node`` (a ProcessingConfiguration) into ``<target>.processing``."""
    enabled = node.boolean("Enabled", True)
    processors = node.items("Processors")
    node.done()
    if not enabled:
        if processors:
            tr.notice(node.name("Processors"), "ProcessingConfiguration.Enabled is false")
        return
    if processors:
        tr.section(f"{target}.processing", node.path)
    seen: dict[str, str] = {}
    for proc in processors:
        kind = proc.string("Type", required=True)
        assert kind is not None
        if kind in REFUSED_PROCESSORS:
            raise ConfigError(proc.name("Type"), f"{kind} is not supported (CloudWatch Logs only)")
        if kind not in PROCESSOR_PARAMETERS:
            choices = ", ".join(PROCESSOR_PARAMETERS)
            raise ConfigError(proc.name("Type"), f"one of {choices}, got {kind!r}")
        if kind in seen:
            raise ConfigError(proc.name("Type"),
                              f"a second {kind} processor (first at {seen[kind]})")
        seen[kind] = proc.path
        params = _parameters(proc, kind)
        proc.done()
        base = f"{target}.processing"
        if kind == "AppendDelimiterToRecord":
            tr.put(f"{base}.append_delimiter", True, proc.name("Type"))
        elif kind == "RecordDeAggregation":
            _deaggregation(params, tr, f"{base}.deaggregation", proc)
        elif kind == "MetadataExtraction":
            _metadata_extraction(params, tr, f"{base}.metadata_extraction", proc)
        else:
            _hook(params, tr, f"{base}.hook", proc, functions)


def _parameters(proc: Node, kind: str) -> dict[str, tuple[str, str]]:
    """ParameterName → (ParameterValue, its path)."""
    allowed = PROCESSOR_PARAMETERS[kind]
    out: dict[str, tuple[str, str]] = {}
    for param in proc.items("Parameters"):
        name = param.string("ParameterName", required=True)
        value = param.string("ParameterValue", required=True)
        param.done()
        assert name is not None and value is not None
        if name not in allowed:
            raise ConfigError(
                param.name("ParameterName"),
                f"{kind} takes {', '.join(allowed) or 'no parameters'}, got {name!r}",
            )
        if name in out:
            raise ConfigError(param.name("ParameterName"), f"{name} is set twice")
        out[name] = (value, param.name("ParameterValue"))
    return out


def _number(value: str, path: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(value)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise ConfigError(path, f"expected {noun}, got {value!r}") from None


def _deaggregation(params: dict[str, tuple[str, str]], tr: Translation, base: str,
                   proc: Node) -> None:
    if "SubRecordType" not in params:
        raise ConfigError(proc.name("Parameters"), "RecordDeAggregation needs SubRecordType")
    kind, path = params["SubRecordType"]
    tr.put(f"{base}.sub_record_type", kind, path)
    if "Delimiter" in params:
        value, path = params["Delimiter"]
        try:
            delimiter = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError(
                path, f"Delimiter must be base64 of UTF-8 text, got {value!r}") from None
        tr.put(f"{base}.delimiter", delimiter, path)


def _metadata_extraction(params: dict[str, tuple[str, str]], tr: Translation, base: str,
                         proc: Node) -> None:
    if "MetadataExtractionQuery" not in params:
        raise ConfigError(proc.name("Parameters"),
                          "MetadataExtraction needs MetadataExtractionQuery")
    engine, path = params.get("JsonParsingEngine", (JQ_ENGINE, ""))
    if engine != JQ_ENGINE:
        raise ConfigError(path, f"only {JQ_ENGINE} is supported, got {engine!r}")
    query, path = params["MetadataExtractionQuery"]
    tr.put(f"{base}.query", query, path)


def _hook(params: dict[str, tuple[str, str]], tr: Translation, base: str, proc: Node,
          functions: Mapping[str, str]) -> None:
    if "LambdaArn" not in params:
        raise ConfigError(proc.name("Parameters"), "Lambda needs LambdaArn")
    arn, path = params["LambdaArn"]
    tr.put(f"{base}.callable", resolve_function(arn, path, functions), path)
    if "NumberOfRetries" in params:
        value, path = params["NumberOfRetries"]
        tr.put(f"{base}.retries", _number(value, path, int), path)
    if "BufferSizeInMBs" in params:  # 0.2–3 in Firehose: a float
        value, path = params["BufferSizeInMBs"]
        tr.put(f"{base}.buffer_size_mb", _number(value, path, float), path)
    if "BufferIntervalInSeconds" in params:
        value, path = params["BufferIntervalInSeconds"]
        seconds = _number(value, path, int)
        tr.put(f"{base}.buffer_interval_ms", int(seconds * 1000), path)
    if "RoleArn" in params:
        tr.notice(params["RoleArn"][1], "IAM roles do not apply")


def resolve_function(arn: str, path: str, functions: Mapping[str, str]) -> str:
    """The ``module:callable`` a LambdaArn stands for (see the module docstring)."""
    if arn in functions:
        return functions[arn]
    match = _LAMBDA_ARN.match(arn)
    if match is not None:
        name = match.group(1)
        if name in functions:
            return functions[name]
        raise ConfigError(
            path, f"no Python callable for {arn!r}: map it (or {name!r}) to 'module:function'"
            " under Shardline.Functions",
        )
    if _CALLABLE.match(arn):
        return arn
    raise ConfigError(path, f"expected a Lambda ARN or 'module:function', got {arn!r}")
