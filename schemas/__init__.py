"""Shardline's record schemas and codec.

Schemas are found by name (:class:`SchemaCatalog`): in the user's folder
(``SHARDLINE_SCHEMA_DIR``), in a Confluent-compatible schema registry
(``SHARDLINE_SCHEMA_REGISTRY_URL``: the latest version of the subject of that name), and in
the bundled examples (``ticker.avsc``, ``clickstream.avsc``, and ``trade.avsc``, the
benchmarks' ~100-byte record: the ticker's fields plus a trade's), which have fixed
Confluent schema ids in ``ids.json``.

:func:`codec_for` gives a :class:`Codec` that encodes a dict to bytes (Avro in the Confluent
wire format, or a JSON object) and decodes bytes back, checking the schema; with a registry
it reads any registered writer schema and resolves it to its own. :func:`decode_any` detects
the format of a record. Decoding failures raise :class:`~ground.errors.CodecError` with
``reason`` and ``raw``; a registry that cannot be used raises
:class:`~ground.errors.SchemaRegistryError`.
"""

from schemas._catalog import (
    SchemaCatalog,
    SchemaSources,
    catalog_for,
    default_catalog,
    load_schema,
    schema_id,
    schema_name_for_id,
    schema_names,
    use_catalog,
)
from schemas._codec import (
    AVRO_MAGIC,
    FORMATS,
    AvroPlan,
    Codec,
    Format,
    codec_for,
    decode_any,
    detect_format,
)
from schemas._local import SchemaFolder
from schemas._registry import RegistryConfig, SchemaRegistry, WriterSchema

__all__ = [
    "AVRO_MAGIC",
    "AvroPlan",
    "Codec",
    "FORMATS",
    "Format",
    "RegistryConfig",
    "SchemaCatalog",
    "SchemaFolder",
    "SchemaRegistry",
    "SchemaSources",
    "WriterSchema",
    "catalog_for",
    "codec_for",
    "decode_any",
    "default_catalog",
    "detect_format",
    "load_schema",
    "schema_id",
    "schema_name_for_id",
    "schema_names",
    "use_catalog",
]
