"""A delivery stream in Firehose's own layout → Shardline's delivery mapping → DeliveryConfig.

Two Firehose documents are recognised:

- ``CreateDeliveryStream`` input (``aws firehose create-delivery-stream --cli-input-json``,
  or the same keys in YAML/TOML): a top-level ``DeliveryStreamName``;
- ``aws firehose describe-delivery-stream`` output: a top-level ``DeliveryStreamDescription``
  whose ``Destinations[0]`` holds ``...DestinationDescription`` objects.

:func:`translate` only renames and reshapes; :meth:`DeliveryConfig.from_mapping` validates,
and :func:`delivery_from_firehose` reports its errors under the user's own field names, e.g.
``ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs: must be between 1 and 128``.

Shardline's additions live in one optional top-level block, ``Shardline``::

    Shardline:
      Topic: ticks              # the Kafka topic (required for DirectPut; overrides the rest)
      Group: my-group           # consumer group (default shardline-deliver-<name>)
      AutoOffsetReset: earliest # earliest | latest
      EnsureBuckets: true       # create the buckets at start-up
      DocumentId: record_key    # offset | record_key | field | none (overrides DocumentIdOptions)
      DocumentIdField: order_id # DocumentId field: the top-level JSON field holding the id
      MaxActivePartitions: 500  # dynamic partitioning's active-partition limit
      MultipartThresholdMB: 16
      Functions:                # LambdaArn (or function name) → Python callable
        arn:aws:lambda:us-east-1:123456789012:function:enrich: mypkg.transforms:handler
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connectors.config import DeliveryConfig
from connectors.firehose_layout.destinations import (
    ExtensionOptions,
    translate_elasticsearch,
    translate_s3,
)
from connectors.firehose_layout.reader import Node, Translation
from ground.errors import ConfigError

__all__ = [
    "EXTENSION_KEY",
    "delivery_from_firehose",
    "is_firehose_layout",
    "translate",
]

EXTENSION_KEY = "Shardline"
DESCRIPTION_KEY = "DeliveryStreamDescription"
STREAM_TYPES = ("DirectPut", "KinesisStreamAsSource", "MSKAsSource", "DatabaseAsSource")
_STREAM_ARN = re.compile(r"^arn:[^:]+:kinesis:[^:]*:[^:]*:stream/([^/]+)$")

# destination key stem → (kind, extended/serverless flag)
S3_STEMS = {"ExtendedS3Destination": True, "S3Destination": False}
SEARCH_STEMS = {
    "ElasticsearchDestination": False,
    "AmazonopensearchserviceDestination": False,
    "AmazonOpenSearchServerlessDestination": True,
}
UNSUPPORTED_STEMS = (
    "RedshiftDestination", "SplunkDestination", "HttpEndpointDestination",
    "SnowflakeDestination", "IcebergDestination",
)
# describe-delivery-stream's read-only status fields: accepted silently.
DESCRIPTION_STATUS = (
    "DeliveryStreamARN", "DeliveryStreamStatus", "VersionId", "CreateTimestamp",
    "LastUpdateTimestamp", "HasMoreDestinations", "FailureDescription",
)
IGNORED_TOP = {
    "Tags": "tags are not used",
    "DeliveryStreamEncryptionConfigurationInput": "Firehose's own server-side encryption",
    "DeliveryStreamEncryptionConfiguration": "Firehose's own server-side encryption",
    "DirectPutSourceConfiguration": "Kafka is the source",
}


def is_firehose_layout(data: object) -> bool:
    """Whether ``data`` is a delivery stream in Firehose's layout (not Shardline's)."""
    return isinstance(data, Mapping) and (
        "DeliveryStreamName" in data or DESCRIPTION_KEY in data
    )


def translate(data: Mapping[str, Any], path: str = "") -> Translation:
    """The Shardline delivery mapping for a Firehose-layout document, with its path map."""
    root = Node(data, path)
    tr = Translation()
    ext_node = root.node(EXTENSION_KEY)
    description = root.has(DESCRIPTION_KEY)
    if description:
        extra = sorted(set(data) - {DESCRIPTION_KEY, EXTENSION_KEY})
        if extra:
            raise ConfigError(root.name(extra[0]), f"unknown setting next to {DESCRIPTION_KEY}")
        stream = root.node(DESCRIPTION_KEY)
        assert stream is not None
    else:
        stream = root
    ext = _extension(ext_node, tr)
    name = stream.string("DeliveryStreamName", required=True)
    tr.put("name", name, stream.name("DeliveryStreamName"))
    _source(stream, tr, ext_node, root.name(EXTENSION_KEY), description=description)
    _destination(stream, tr, ext, description=description)
    for key, why in IGNORED_TOP.items():
        stream.ignore(tr, why, key)
    if description:
        stream.accept(*DESCRIPTION_STATUS)
    stream.done()
    root.done()
    return tr


def _extension(node: Node | None, tr: Translation) -> ExtensionOptions:
    if node is None:
        return ExtensionOptions(functions={})
    for key, target in (("Group", "group"), ("AutoOffsetReset", "auto_offset_reset")):
        if node.has(key):
            tr.put(target, node.get(key), node.name(key))
    functions: dict[str, str] = {}
    table = node.node("Functions")
    if table is not None:
        for arn in table.data:
            functions[str(arn)] = table.string(arn, required=True) or ""
        table.done()
    ensure = node.boolean("EnsureBuckets", False) if node.has("EnsureBuckets") else None
    document_id = None
    if node.has("DocumentId"):
        document_id = (node.string("DocumentId") or "", node.name("DocumentId"))
    document_id_field = None
    if node.has("DocumentIdField"):
        document_id_field = (node.string("DocumentIdField") or "", node.name("DocumentIdField"))
    elif document_id is not None and document_id[0] == "field":
        raise ConfigError(node.name("DocumentIdField"), "is required with DocumentId field")
    partitions = mb = None
    if node.has("MaxActivePartitions"):
        partitions = (node.get("MaxActivePartitions"), node.name("MaxActivePartitions"))
    if node.has("MultipartThresholdMB"):
        mb = (node.get("MultipartThresholdMB"), node.name("MultipartThresholdMB"))
    node.mark("Topic")  # read by _source
    node.done()
    return ExtensionOptions(
        functions=functions, ensure_buckets=ensure, document_id=document_id,
        document_id_field=document_id_field,
        max_active_partitions=partitions, multipart_threshold_mb=mb,
    )


def _source(stream: Node, tr: Translation, ext: Node | None, ext_path: str, *,
            description: bool) -> None:
    """The Kafka topic: ``Shardline.Topic``, else the MSK topic, else the Kinesis stream name."""
    kind = stream.choice("DeliveryStreamType", STREAM_TYPES, "DirectPut")
    if kind == "DatabaseAsSource":
        raise ConfigError(stream.name("DeliveryStreamType"), "DatabaseAsSource is not supported")
    topic: tuple[str, str] | None = None
    if description:
        source = stream.node("Source")
        kinesis = source.node("KinesisStreamSourceDescription") if source else None
        msk = source.node("MSKSourceDescription") if source else None
        if source is not None:
            source.ignore(tr, "Kafka is the source", "DirectPutSourceDescription",
                          "DatabaseSourceDescription")
            source.done()
    else:
        kinesis = stream.node("KinesisStreamSourceConfiguration")
        msk = stream.node("MSKSourceConfiguration")
        stream.reject("DatabaseAsSource is not supported", "DatabaseSourceConfiguration")
    _source_matches_type(stream, kind, (kinesis, "KinesisStreamAsSource"), (msk, "MSKAsSource"),
                         has_topic=ext is not None and ext.has("Topic"))
    if kinesis is not None:
        arn = kinesis.string("KinesisStreamARN", required=True) or ""
        match = _STREAM_ARN.match(arn)
        if match is None:
            raise ConfigError(
                kinesis.name("KinesisStreamARN"),
                f"expected arn:aws:kinesis:<region>:<account>:stream/<name>, got {arn!r}",
            )
        topic = (match.group(1), kinesis.name("KinesisStreamARN"))
        kinesis.ignore(tr, "IAM roles do not apply", "RoleARN")
        kinesis.accept("DeliveryStartTimestamp")
        kinesis.done()
    if msk is not None:
        topic = (msk.string("TopicName", required=True) or "", msk.name("TopicName"))
        msk.ignore(tr, "the Kafka cluster comes from SHARDLINE_KAFKA_BOOTSTRAP", "MSKClusterARN",
                   "AuthenticationConfiguration")
        msk.reject("not supported: set Shardline.AutoOffsetReset", "ReadFromTimestamp")
        msk.accept("DeliveryStartTimestamp")
        msk.done()
    if ext is not None and ext.has("Topic"):
        topic = (ext.string("Topic") or "", ext.name("Topic"))
    if topic is None:
        where = stream.name("DeliveryStreamType")
        raise ConfigError(
            f"{ext_path}.Topic",
            f"is required: {where} is {kind}, which names no Kafka topic",
        )
    tr.put("topic", topic[0], topic[1])


def _source_matches_type(stream: Node, kind: str, *sources: tuple[Node | None, str],
                         has_topic: bool) -> None:
    """Firehose's rule: a source configuration exactly when DeliveryStreamType names it (a
    stream of one type with another's source is refused, not silently read)."""
    where = stream.name("DeliveryStreamType")
    for node, its_type in sources:
        if node is not None and kind != its_type:
            raise ConfigError(node.path, f"only with DeliveryStreamType {its_type}, but {where}"
                              f" is {kind}")
        if node is None and kind == its_type and not has_topic:
            raise ConfigError(where, f"{its_type} needs its source configuration (or set "
                              f"{EXTENSION_KEY}.Topic)")


def _destination(stream: Node, tr: Translation, ext: ExtensionOptions, *,
                 description: bool) -> None:
    if description:
        items = stream.items("Destinations")
        if len(items) != 1:
            raise ConfigError(stream.name("Destinations"),
                              f"expected exactly one destination, got {len(items)}")
        holder = items[0]
        holder.accept("DestinationId")
        suffix = "Description"
    else:
        holder = stream
        suffix = "Configuration"
    found = [stem for stem in (*S3_STEMS, *SEARCH_STEMS, *UNSUPPORTED_STEMS)
             if holder.has(stem + suffix)]
    for stem in UNSUPPORTED_STEMS:
        if stem in found:
            raise ConfigError(holder.name(stem + suffix), "this destination is not supported")
    if description and found == ["ExtendedS3Destination", "S3Destination"]:
        # describe shows an extended S3 destination twice; the plain view adds nothing.
        holder.mark("S3DestinationDescription")
        found = ["ExtendedS3Destination"]
    if len(found) != 1:
        names = ", ".join(s + suffix for s in found) or "none"
        raise ConfigError(holder.name(f"ExtendedS3Destination{suffix}"),
                          f"set exactly one destination (S3 or OpenSearch), got {names}")
    stem = found[0]
    node = holder.node(stem + suffix)
    assert node is not None
    if stem in S3_STEMS:
        translate_s3(node, tr, ext, extended=S3_STEMS[stem], description=description)
    else:
        translate_elasticsearch(node, tr, ext, serverless=SEARCH_STEMS[stem],
                                description=description)
    if holder is not stream:
        holder.done()


def delivery_from_firehose(data: Mapping[str, Any], path: str = "") -> DeliveryConfig:
    """Translate and validate; a ConfigError names the field in the user's layout."""
    tr = translate(data, path)
    try:
        return DeliveryConfig.from_mapping(tr.mapping)
    except ConfigError as exc:
        raise _in_user_layout(exc, tr, path) from None


def _in_user_layout(exc: ConfigError, tr: Translation, path: str) -> ConfigError:
    message = exc.message
    source = tr.source_of(exc.field)
    if source is None:
        return ConfigError(f"{path}.{exc.field}" if path else exc.field, message)
    if message == "unknown setting" and exc.field in tr.paths:
        # A key the translation produced that this build's DeliveryConfig does not take yet.
        message = f"not supported by this version of Shardline (translated to {exc.field})"
    return ConfigError(source, message)
