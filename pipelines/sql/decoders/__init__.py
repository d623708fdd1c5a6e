"""Record formats in: Kafka record bytes → typed rows of an in-application stream.

:func:`build_decoder` follows KDA's input mapping (:mod:`pipelines.sql.encoders` writes rows
back as records):

- **JSON** — ``orjson``; each column's ``Mapping`` (JSONPath) is compiled to plain lookups
  (:mod:`pipelines.sql.jsonpath`). A missing element is NULL, as in KDA. ``RecordRowPath``
  says where the rows are: ``$`` (the record; a top-level array gives one row per element),
  ``$.records`` or ``$.records[0:]`` (one row per element of that array; an object there
  is one row). A column mapped through an array (``$.orders[0:].id``) flattens that array:
  one row per element, the other columns repeated, one row of NULLs for an empty array.
  JSON values convert as KDA documents: objects and arrays become their JSON text in
  CHAR/VARCHAR columns, ``true``/``false`` are 1/0 in numeric columns, numbers are
  ``<> 0`` in BOOLEAN columns; everything else goes through :func:`pipelines.sql.types.coerce`
  (so, unlike KDA, a string longer than its VARCHAR is an error rather than cut, and numbers
  are accepted as epoch milliseconds for TIMESTAMP).
- **CSV** — UTF-8 text split on ``RecordRowDelimiter`` (a record may hold several rows;
  empty lines are skipped; with ``\\n`` a trailing ``\\r`` is dropped), fields on
  ``RecordColumnDelimiter``, positionally. Fields in double quotes follow Python's ``csv``
  module (a single-character column delimiter; quotes may hold the column delimiter, and,
  with the ``\\n`` row delimiter, line breaks). Extra fields are ignored (KDA imports the
  first N); fewer fields than columns is ``Schema_Mismatch``. An empty field is NULL except
  in CHAR/VARCHAR columns (the empty string). TIMESTAMP fields take KDA's text form or
  epoch milliseconds.
- **AVRO** — Confluent framing with the schema of ``AvroSchema`` (:mod:`schemas`); columns map
  fields (or paths into nested records) like JSON.

Errors are :class:`~ground.errors.RowError` named like KDA's ``ERROR_NAME``:
``Malformed_Record`` (not UTF-8, not JSON, not CSV, not Avro), ``Schema_Mismatch`` (the
record has the wrong shape: no rows where ``RecordRowPath`` points, a row that is not an
object, too few CSV fields, an Avro record of another schema) and ``Type_Coercion_Error``
(a value that does not fit its column). Decoding raises nothing else, whatever the bytes.

One module per format (:mod:`.json_rows`, :mod:`.csv_rows`, :mod:`.avro_rows`) on the
contract of :mod:`.base`; :mod:`.converters` and :mod:`.objects` are shared by JSON and Avro.
"""

from __future__ import annotations

from pipelines.sql.decoders.avro_rows import AvroDecoder
from pipelines.sql.decoders.base import (
    MALFORMED_RECORD,
    RECORD_TOO_LARGE,
    SCHEMA_MISMATCH,
    DecodedBatch,
    RowDecoder,
)
from pipelines.sql.decoders.build import build_decoder
from pipelines.sql.decoders.converters import text_converter, value_converter
from pipelines.sql.decoders.csv_rows import CsvDecoder
from pipelines.sql.decoders.json_rows import JsonDecoder

__all__ = [
    "AvroDecoder",
    "CsvDecoder",
    "DecodedBatch",
    "JsonDecoder",
    "MALFORMED_RECORD",
    "RECORD_TOO_LARGE",
    "RowDecoder",
    "SCHEMA_MISMATCH",
    "build_decoder",
    "text_converter",
    "value_converter",
]
