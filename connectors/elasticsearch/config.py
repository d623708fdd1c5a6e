"""An Elasticsearch/OpenSearch delivery's ``elasticsearch:`` section, and the destinations
built from it.

Firehose's search destination configuration in Shardline's layout: index (``index`` or
``IndexName``) and its rotation, document ids, buffering, retries, processing, and the S3
backup of failed documents (or of every document, S3BackupMode ``AllDocuments``). Every error
names the exact field, e.g. ``elasticsearch.buffering.size_mb: must be between 1 and 100``.

Where the cluster is and how to authenticate to it (basic, API key, bearer token, SigV4 for
Amazon OpenSearch Service and Serverless; the CA bundle) are connection settings, not part of
this section: ``SHARDLINE_SEARCH_*`` (:class:`~ground.search_auth.SearchAuth`), shared with
the local stack and ``shardline verify``. :meth:`ElasticsearchConfig.build` and
:meth:`ElasticsearchConfig.check` apply them; a refused credential is a
:class:`~ground.errors.CredentialsError` naming the settings, at start-up or mid-run.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from connectors.core.buffer import DEFAULT_SIZE_BYTES, MIB, BufferingHints
from connectors.core.registry import DeliveryParts, DestinationConfig
from connectors.core.retry import RetryOptions
from connectors.core.section import Section, read_buffering, read_retry
from connectors.elasticsearch.destination import DocumentIdStrategy, ElasticsearchDestination
from connectors.elasticsearch.failures import ERROR_OUTPUT_TYPE, es_failure_formatter
from connectors.elasticsearch.rotation import IndexRotationPeriod
from connectors.s3.buckets import check_buckets, s3_client
from connectors.s3.compression import CompressionFormat
from connectors.s3.config import read_bucket, read_compression, read_encryption, read_prefix
from connectors.s3.destination import S3Destination
from connectors.transform.config import ProcessingConfig, build_transform
from ground.errors import ConfigError, DeliveryError, DestinationUnavailableError
from ground.s3 import ServerSideEncryption, s3_credentials
from ground.search_auth import SearchAuthenticator
from ground.settings import Settings

__all__ = ["ElasticsearchConfig", "S3BackupConfig", "S3BackupMode"]

log = logging.getLogger(__name__)

ES_SIZE_MB = (1, 100, DEFAULT_SIZE_BYTES // MIB)  # Firehose SizeInMBs: min, max, default
INDEX_NAME_LENGTH = (1, 80)  # Firehose IndexName (its pattern is ``.*``)
# Firehose's default is OneDay; Shardline keeps a fixed index unless asked, as before.
DEFAULT_INDEX_ROTATION = IndexRotationPeriod.NO_ROTATION
HEALTH_TIMEOUT_MS = 5_000  # the start-up check's patience


class S3BackupMode(StrEnum):
    """Firehose's S3BackupMode of a search destination."""

    FAILED_DOCUMENTS_ONLY = "FailedDocumentsOnly"
    ALL_DOCUMENTS = "AllDocuments"  # every source record is also written to the backup


@dataclass(frozen=True, slots=True)
class S3BackupConfig:
    """Where Elasticsearch's failed documents go (Firehose's S3BackupMode): with
    ``AllDocuments``, every source record is written there too, under ``<prefix>``, and the
    failed documents under ``<prefix>AmazonOpenSearchService-failed/`` as always."""

    bucket: str
    prefix: str = "es-failed/"
    compression: CompressionFormat = CompressionFormat.GZIP
    ensure_bucket: bool = False
    mode: S3BackupMode = S3BackupMode.FAILED_DOCUMENTS_ONLY
    encryption: ServerSideEncryption | None = None

    @classmethod
    def from_section(cls, s: Section) -> S3BackupConfig:
        config = cls(
            mode=s.enum("mode", S3BackupMode, S3BackupMode.FAILED_DOCUMENTS_ONLY),
            bucket=read_bucket(s, "bucket"),
            prefix=read_prefix(s, "prefix", "es-failed/"),
            compression=read_compression(s, CompressionFormat.GZIP),
            ensure_bucket=bool(s.get("ensure_bucket")),
            encryption=read_encryption(s),
        )
        s.done()
        return config


def _index(s: Section) -> str:
    """``index`` (or Firehose's ``IndexName``): Elasticsearch's rules for a name."""
    key = s.alias("index", "IndexName") or "index"
    index = s.string(key)
    lo, hi = INDEX_NAME_LENGTH
    if not lo <= len(index) <= hi:
        raise ConfigError(s.name(key), f"must be {lo} to {hi} characters, got {len(index)}")
    if index != index.lower() or index.startswith(("-", "_", "+")) or any(
        c in index for c in ' "*\\<|,>/?#:'
    ):
        raise ConfigError(s.name(key), f"not a valid index name: {index!r}")
    return index


@dataclass(frozen=True, slots=True)
class ElasticsearchConfig(DestinationConfig):
    """``elasticsearch:``."""

    section_name: ClassVar[str] = "elasticsearch"

    index: str
    document_id: DocumentIdStrategy = DocumentIdStrategy.OFFSET
    # document_id: field — the top-level JSON field holding each document's id
    document_id_field: str | None = None
    index_rotation_period: IndexRotationPeriod = DEFAULT_INDEX_ROTATION
    buffering: BufferingHints = field(default_factory=BufferingHints)
    retry: RetryOptions = field(default_factory=RetryOptions)
    s3_backup: S3BackupConfig | None = None
    processing: ProcessingConfig | None = None

    @classmethod
    def from_section(cls, s: Section) -> ElasticsearchConfig:
        index = _index(s)
        rotation_key = s.alias("index_rotation_period", "IndexRotationPeriod")
        rotation = DEFAULT_INDEX_ROTATION if rotation_key is None else s.enum(
            rotation_key, IndexRotationPeriod, DEFAULT_INDEX_ROTATION)
        document_id = s.enum("document_id", DocumentIdStrategy, DocumentIdStrategy.OFFSET)
        id_field = None
        if document_id is DocumentIdStrategy.FIELD:
            id_field = s.string("document_id_field")
            if not id_field:
                raise ConfigError(s.name("document_id_field"), "must not be empty")
        elif s.has("document_id_field"):
            raise ConfigError(s.name("document_id_field"),
                              f"only with document_id: field, not {document_id.value!r}")
        config = cls(
            index=index,
            document_id=document_id,
            document_id_field=id_field,
            index_rotation_period=rotation,
            buffering=read_buffering(s.section("buffering"), ES_SIZE_MB),
            retry=read_retry(s.section("retry")),
            s3_backup=S3BackupConfig.from_section(s.section("s3_backup")) if s.has(
                "s3_backup") else None,
            processing=ProcessingConfig.from_section(s.section("processing"),
                                                     partitioning=False)
            if s.has("processing") else None,
        )
        s.done()
        return config

    def build(self, stream: str, settings: Settings) -> DeliveryParts:
        """The index's destination; the S3 backup of failed documents, and with
        AllDocuments the source backup beside it; the transform."""
        if self.document_id is DocumentIdStrategy.NONE:
            log.warning(
                "%s: document_id none (NO_DOCUMENT_ID): %s assigns document ids, so a retried"
                " or replayed document is indexed again — this delivery is not exactly-once",
                stream, settings.search_engine,
            )
        es = ElasticsearchDestination(
            settings.search_url, self.index, document_id=self.document_id,
            document_id_field=self.document_id_field, rotation=self.index_rotation_period,
            name=f"{settings.search_engine}/{self.index}",
            auth=settings.search_auth.authenticator(), system=_system(settings),
        )
        backup = source_backup = None
        if self.s3_backup is not None:
            b = self.s3_backup
            credentials = s3_credentials(settings)  # one set for both: refreshed once
            backup = S3Destination(
                s3_client(settings, credentials), b.bucket,
                prefix=f"{b.prefix}{ERROR_OUTPUT_TYPE}/", stream=stream,
                compression=b.compression, name=f"s3://{b.bucket}/{b.prefix}",
                same_records_suffice=True, sse=b.encryption,
            )
            if b.mode is S3BackupMode.ALL_DOCUMENTS:
                # Every source record, as consumed, under the prefix (failed documents go
                # below it, under AmazonOpenSearchService-failed/, as with FailedDocumentsOnly).
                source_backup = S3Destination(
                    s3_client(settings, credentials), b.bucket, prefix=b.prefix,
                    stream=stream, compression=b.compression,
                    name=f"s3://{b.bucket}/{b.prefix} (all documents)", sse=b.encryption,
                )
        return DeliveryParts(es, backup=backup, source_backup=source_backup,
                             format_failure=es_failure_formatter(es),
                             transform=build_transform(self.processing))

    async def check(self, settings: Settings) -> None:
        """The cluster answers its health with these credentials, over a TLS connection it
        can verify, and the backup's bucket is usable."""
        await check_cluster(settings, self.index)
        buckets = []
        if self.s3_backup is not None:
            buckets.append((self.s3_backup.bucket, self.s3_backup.ensure_bucket,
                            "elasticsearch.s3_backup.bucket"))
        await check_buckets(settings, buckets)


def _system(settings: Settings) -> str:
    return "OpenSearch" if settings.search_engine == "opensearch" else "Elasticsearch"


async def check_cluster(settings: Settings, index: str,
                        auth: SearchAuthenticator | None = None) -> None:
    """Start-up check of the search cluster: reachable, TLS verified, credentials accepted.

    401 is a CredentialsError naming the credential settings. A 403 means the credentials
    were accepted but may not read the cluster's health (a user or key limited to its
    indices): that is fine, the writes will tell."""
    system = _system(settings)
    url = settings.search_url
    es = ElasticsearchDestination(url, index, timeout_ms=HEALTH_TIMEOUT_MS, system=system,
                                  auth=auth or settings.search_auth.authenticator())
    try:
        status, reason = await es.cluster_health()
    except ssl.SSLError as exc:  # aiohttp's certificate errors are SSLErrors too
        raise DeliveryError(
            f"cannot verify the TLS certificate of {url}: {exc} (set SHARDLINE_SEARCH_CA_BUNDLE"
            " to the CA that signed it)", destination=system) from None
    except OSError as exc:  # down or restarting: transient
        raise DestinationUnavailableError(
            f"cannot reach {url}: {exc}", system=system, endpoint=url, reason=str(exc)
        ) from None
    finally:
        await es.close()
    if status == 401:
        code, _, message = reason.partition(": ")
        raise es.credentials_error(status, code, message)
    if status == 403:
        log.info("%s: %s may not read the cluster health (%s); going on", system,
                 settings.search_auth.describe(), reason)
    elif status >= 500:  # restarting, overloaded: transient
        raise DestinationUnavailableError(
            f"{url} answered HTTP {status} {reason}", system=system, endpoint=url,
            reason=f"HTTP {status} {reason}",
        )
    elif status >= 400:
        raise DeliveryError(f"{url} answered HTTP {status} {reason}", destination=system)
