"""Reference data: the in-application tables KDA loads from one S3 object at start-up.

:func:`load_reference_table` GETs the object of a :class:`ReferenceDataSource` from S3/MinIO
(connection settings from :class:`~ground.settings.Settings`) and decodes it with its
``ReferenceSchema``:

- **CSV** — rows split on ``RecordRowDelimiter``, fields on ``RecordColumnDelimiter``, as a
  CSV input record (``SkipHeaderLines`` drops a header line); a leading UTF-8 BOM is dropped.
- **JSON** — either one JSON document (an object, or an array of objects, or rows where
  ``RecordRowPath`` points), or JSON Lines: one document per line.

As in KDA, the table is read once, when the application starts (an update of the object is
seen at the next start), and an object larger than the limit (KDA: 1 GB) is refused. Every
failure is a :class:`~ground.errors.ConfigError` naming the field: a missing object
``ReferenceDataSources[i].S3ReferenceDataSource.FileKey``, a missing bucket ``….Bucket`` (or
``….BucketARN``), a row that does not decode ``ReferenceDataSources[i].ReferenceSchema`` with
its line; the application does not start on half a table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson

from ground.errors import ConfigError, RowError
from ground.s3 import ENTITY_TOO_LARGE, S3Client
from ground.settings import Settings
from pipelines.sql.appconfig import ApplicationConfig, RecordFormatType, ReferenceDataSource
from pipelines.sql.decoders import CsvDecoder, JsonDecoder, build_decoder

__all__ = [
    "DEFAULT_MAX_BYTES",
    "decode_reference_data",
    "load_reference_table",
    "load_reference_tables",
]

#: KDA's limit on the size of a reference data object.
DEFAULT_MAX_BYTES = 1024**3
_BOM = "\ufeff"


def _s3_client(settings: Settings) -> S3Client:
    return S3Client.from_settings(settings)


async def load_reference_table(
    source: ReferenceDataSource,
    settings: Settings,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    client: S3Client | None = None,
) -> list[tuple[Any, ...]]:
    """The rows of ``source``'s S3 object, in the order of its ``RecordColumns``."""
    if client is None:
        async with _s3_client(settings) as own:
            body = await _fetch(own, source, max_bytes)
    else:
        body = await _fetch(client, source, max_bytes)
    return decode_reference_data(source, body)


async def load_reference_tables(
    config: ApplicationConfig, settings: Settings, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, list[tuple[Any, ...]]]:
    """Every reference table of ``config`` by ``TableName``, loaded concurrently."""
    sources = config.reference_data_sources
    if not sources:
        return {}
    async with _s3_client(settings) as client:
        tables = await asyncio.gather(
            *(
                load_reference_table(s, settings, max_bytes=max_bytes, client=client)
                for s in sources
            )
        )
    return {s.table_name: rows for s, rows in zip(sources, tables, strict=True)}


async def _fetch(client: S3Client, source: ReferenceDataSource, max_bytes: int) -> bytes:
    s3 = f"{source.path}.S3ReferenceDataSource"
    where = f"s3://{source.bucket}/{source.file_key}"
    resp = await client.get_object(source.bucket, source.file_key, max_bytes=max_bytes)
    if resp.ok:
        return resp.body
    code = resp.error_code
    if code == ENTITY_TOO_LARGE:
        raise ConfigError(f"{s3}.FileKey", f"{where} is too large: {resp.message}")
    if resp.status is None:
        raise ConfigError(s3, f"cannot read {where} from {client.endpoint}: {resp.message}")
    if code == "NoSuchKey":
        raise ConfigError(f"{s3}.FileKey", f"no object {where}")
    if code == "NoSuchBucket":
        raise ConfigError(f"{s3}.{source.bucket_field}", f"no bucket {source.bucket!r}")
    if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        raise ConfigError(s3, f"{code} reading {where}: check the S3 credentials")
    raise ConfigError(s3, f"cannot read {where}: HTTP {resp.status} {code}: {resp.message}")


def decode_reference_data(source: ReferenceDataSource, body: bytes) -> list[tuple[Any, ...]]:
    """Decode a reference object (see the module docs); ConfigError on the first bad row."""
    field = f"{source.path}.ReferenceSchema"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"s3://{source.bucket}/{source.file_key}"
        raise ConfigError(field, f"{where} is not UTF-8: {exc}") from None
    text = text.removeprefix(_BOM)
    decoder = build_decoder(source.reference_schema)
    kind = source.reference_schema.record_format.record_format_type
    if kind is RecordFormatType.CSV:
        assert isinstance(decoder, CsvDecoder)
        return _rows(field, "row", enumerate(decoder.split(text), 1), decoder.row)
    assert kind is RecordFormatType.JSON and isinstance(decoder, JsonDecoder)
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        lines = ((n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip())
        return _rows(field, "line", lines, lambda line: decoder.decode_rows(line.encode()))
    return _rows(field, "document", [(1, document)], decoder.rows_of)


def _rows(field: str, unit: str, items: Iterable[tuple[int, Any]], decode: Any) -> list[Any]:
    rows: list[Any] = []
    for n, item in items:
        try:
            got = decode(item)
        except RowError as exc:
            raise ConfigError(field, f"{unit} {n}: {exc}") from None
        if isinstance(got, tuple):
            rows.append(got)
        else:
            rows.extend(got)
    return rows
