"""From a :class:`DeliveryConfig` and the environment's :class:`Settings` to a running worker."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from confluent_kafka import Consumer

from connectors.config import (
    DataFormatConversionConfig,
    DeliveryConfig,
    ElasticsearchConfig,
    ProcessingConfig,
    S3BackupMode,
    S3Config,
)
from connectors.core.buffer import MIB
from connectors.core.delivery import DeliveryCore
from connectors.core.failures import FailureFormatter, format_failure
from connectors.core.metrics import MetricsHook
from connectors.core.retry import RetryOptions
from connectors.core.worker import (
    ConsumerLike,
    DeliveryWorker,
    consumer_config,
    fetch_config,
    prefetch_bytes,
)
from connectors.elasticsearch.destination import DocumentIdStrategy, ElasticsearchDestination
from connectors.elasticsearch.failures import ERROR_OUTPUT_TYPE, es_failure_formatter
from connectors.s3.avro_arrow import schema_for
from connectors.s3.conversion_failures import failure_formatter
from connectors.s3.destination import S3Destination
from connectors.s3.formats import BodyEncoder
from connectors.s3.json_columns import KeyRules
from connectors.s3.parquet import ParquetEncoder
from connectors.s3.prefix import compile_prefixes
from connectors.transform.deaggregate import Deaggregator
from connectors.transform.hook import ProcessingHook
from connectors.transform.partitioning import ActivePartitions, MetadataExtractor
from connectors.transform.stage import TransformStage
from ground.errors import DeliveryError
from ground.kafka import partition_count
from ground.s3 import S3Client
from ground.settings import Settings

__all__ = [
    "S3_ERROR_OUTPUT_TYPE",
    "build_core",
    "build_transform",
    "build_worker",
    "fetch_config",
    "parquet_encoder",
    "preflight",
]

log = logging.getLogger(__name__)

S3_ERROR_OUTPUT_TYPE = "s3-failed"
MIN_MAX_POLL_INTERVAL_MS = 300_000
MAX_POLL_INTERVAL_SLACK_MS = 60_000


def _s3_client(settings: Settings) -> S3Client:
    return S3Client.from_settings(settings)


def build_transform(
    processing: ProcessingConfig | None,
    *,
    max_active_partitions: int | None = None,
    required_keys: tuple[str, ...] = (),
) -> TransformStage | None:
    """The transform stage for a destination's ``processing:`` (None when there is nothing
    to do). ``max_active_partitions``: dynamic partitioning's limit, when it is enabled."""
    if processing is None and max_active_partitions is None:
        return None
    p = processing or ProcessingConfig()
    d = p.deaggregation
    h = p.hook
    return TransformStage(
        deaggregator=Deaggregator(d.sub_record_type, d.delimiter.encode()) if d else None,
        hook=ProcessingHook.from_spec(
            h.callable, retries=h.retries, timeout_ms=h.timeout_ms,
            buffer_size_bytes=h.buffer_size_bytes) if h else None,
        extractor=MetadataExtractor(p.metadata_extraction_query)
        if p.metadata_extraction_query is not None else None,
        append_delimiter=b"\n" if p.append_delimiter else None,
        partitions=ActivePartitions(max_active_partitions)
        if max_active_partitions is not None else None,
        required_keys=required_keys,
    )


def parquet_encoder(conversion: DataFormatConversionConfig) -> ParquetEncoder:
    """The body encoder of an S3 delivery with record format conversion."""
    return ParquetEncoder(
        schema_for(conversion.schema),
        compression=conversion.compression,
        keys=KeyRules(
            case_insensitive=conversion.case_insensitive,
            dots_to_underscores=conversion.convert_dots_in_json_keys_to_underscores,
            mappings=dict(conversion.column_to_json_key_mappings),
        ),
        enable_dictionary=conversion.enable_dictionary_compression,
        page_size_bytes=conversion.page_size_bytes,
        writer_version=conversion.writer_version,
        schema_name=conversion.schema,
    )


def build_core(
    config: DeliveryConfig, settings: Settings, *, metrics: MetricsHook | None = None
) -> DeliveryCore:
    """The destination, its backup and the core, without Kafka."""
    dest_config = config.destination
    if isinstance(dest_config, S3Config):
        partitioning = dest_config.dynamic_partitioning
        enabled = partitioning is not None and partitioning.enabled
        prefixes = compile_prefixes(dest_config.prefix, dest_config.error_output_prefix,
                                    dynamic_partitioning=enabled)
        multipart = dest_config.multipart_threshold_mb * MIB
        conversion = dest_config.data_format_conversion
        encoder: BodyEncoder | None = None
        formatter: FailureFormatter = format_failure
        if conversion is not None:
            encoder = parquet_encoder(conversion)
            formatter = failure_formatter(conversion.schema)
        destination = S3Destination(
            _s3_client(settings), dest_config.bucket, prefix=prefixes.prefix,
            stream=config.name, compression=dest_config.compression,
            name=f"s3://{dest_config.bucket}", multipart_threshold=multipart, encoder=encoder,
        )
        backup = None
        # Records conversion rejects always have somewhere to go: without an
        # ErrorOutputPrefix, Firehose's default <Prefix><error-output-type>/yyyy/MM/dd/HH/.
        if dest_config.error_output_prefix is not None or conversion is not None:
            backup = S3Destination(
                _s3_client(settings), dest_config.bucket,
                prefix=prefixes.error_output_prefix, error_output_type=S3_ERROR_OUTPUT_TYPE,
                stream=config.name, compression=dest_config.compression,
                name=f"s3://{dest_config.bucket}/{prefixes.error_output_prefix.text}",
                multipart_threshold=multipart, same_records_suffice=True,
            )
        source_backup = None
        if dest_config.source_backup is not None:
            sb = dest_config.source_backup
            source_backup = S3Destination(
                _s3_client(settings), sb.bucket, prefix=sb.prefix, stream=config.name,
                compression=sb.compression, name=f"s3://{sb.bucket}/{sb.prefix}",
                multipart_threshold=multipart,
            )
        transform = build_transform(
            dest_config.processing,
            max_active_partitions=partitioning.max_active_partitions
            if partitioning is not None and enabled else None,
            required_keys=tuple(name for _, name in prefixes.prefix.partition_keys),
        )
        return DeliveryCore(
            config.name, destination, hints=dest_config.buffering, retry=dest_config.retry,
            backup=backup, format_failure=formatter, metrics=metrics,
            transform=transform, source_backup=source_backup,
        )
    assert isinstance(dest_config, ElasticsearchConfig)
    if dest_config.document_id is DocumentIdStrategy.NONE:
        log.warning(
            "%s: document_id none (NO_DOCUMENT_ID): %s assigns document ids, so a retried or"
            " replayed document is indexed again — this delivery is not exactly-once",
            config.name, settings.search_engine,
        )
    es = ElasticsearchDestination(
        settings.search_url, dest_config.index, document_id=dest_config.document_id,
        document_id_field=dest_config.document_id_field,
        rotation=dest_config.index_rotation_period,
        name=f"{settings.search_engine}/{dest_config.index}",
    )
    es_backup = source_backup = None
    if dest_config.s3_backup is not None:
        b = dest_config.s3_backup
        es_backup = S3Destination(
            _s3_client(settings), b.bucket, prefix=f"{b.prefix}{ERROR_OUTPUT_TYPE}/",
            stream=config.name, compression=b.compression, name=f"s3://{b.bucket}/{b.prefix}",
            same_records_suffice=True,
        )
        if b.mode is S3BackupMode.ALL_DOCUMENTS:
            # Every source record, as consumed, under the prefix (failed documents go below
            # it, under AmazonOpenSearchService-failed/, as with FailedDocumentsOnly).
            source_backup = S3Destination(
                _s3_client(settings), b.bucket, prefix=b.prefix, stream=config.name,
                compression=b.compression, name=f"s3://{b.bucket}/{b.prefix} (all documents)",
            )
    return DeliveryCore(
        config.name, es, hints=dest_config.buffering, retry=dest_config.retry,
        backup=es_backup, source_backup=source_backup,
        format_failure=es_failure_formatter(es), metrics=metrics,
        transform=build_transform(dest_config.processing),
    )


def _retry_budget_ms(retry: RetryOptions) -> int:
    return retry.duration_ms + retry.max_backoff_ms


def build_worker(
    config: DeliveryConfig,
    settings: Settings,
    *,
    metrics: MetricsHook | None = None,
    consume_batch: int | None = None,
    shutdown_timeout_ms: int | None = None,
) -> DeliveryWorker:
    """A ready-to-run worker: ``build_worker(cfg, settings).run(until_idle_ms=5000)``."""
    core = build_core(config, settings, metrics=metrics)
    # A flush (retries of the destination, then of the backup) happens between two polls.
    budget = 2 * _retry_budget_ms(config.destination.retry) + MAX_POLL_INTERVAL_SLACK_MS
    consumer = Consumer({
        **consumer_config(
            settings.kafka_bootstrap, config.group_id,
            max_poll_interval_ms=max(MIN_MAX_POLL_INTERVAL_MS, budget),
            auto_offset_reset=config.auto_offset_reset,
        ),
        **fetch_config(config.max_buffered_bytes),
    })
    kwargs = {"consume_batch": consume_batch} if consume_batch else {}
    # The pre-fetch queue gets its share of the cap; the core holds the rest.
    prefetch = prefetch_bytes(config.max_buffered_bytes)
    return DeliveryWorker(
        core, cast(ConsumerLike, consumer), config.topic,
        max_buffered_bytes=max(config.destination.buffering.size_bytes,
                               config.max_buffered_bytes - prefetch),
        shutdown_timeout_ms=(config.shutdown_timeout_ms if shutdown_timeout_ms is None
                             else shutdown_timeout_ms),
        **kwargs,
    )


def preflight(config: DeliveryConfig, settings: Settings, *, timeout_s: float = 10.0) -> None:
    """Fail fast with a clear error if the broker, the topic or a destination is unreachable.

    Creates the buckets marked ``ensure_bucket``.
    """
    partition_count(settings.kafka_bootstrap, config.topic, timeout_s)  # broker + topic
    asyncio.run(_check_destinations(config, settings))


async def _check_destinations(config: DeliveryConfig, settings: Settings) -> None:
    dest = config.destination
    buckets: list[tuple[str, bool, str]] = []
    if isinstance(dest, S3Config):
        buckets.append((dest.bucket, dest.ensure_bucket, "s3.bucket"))
        if dest.source_backup is not None:
            buckets.append((dest.source_backup.bucket, dest.source_backup.ensure_bucket,
                            "s3.source_backup.bucket"))
    else:
        if dest.s3_backup is not None:
            buckets.append((dest.s3_backup.bucket, dest.s3_backup.ensure_bucket,
                            "elasticsearch.s3_backup.bucket"))
        es = ElasticsearchDestination(settings.search_url, dest.index, timeout_ms=5_000)
        try:
            await es.open()
            assert es._session is not None
            async with es._session.get(settings.search_url + "/_cluster/health") as health:
                if health.status >= 400:
                    raise DeliveryError(f"{settings.search_url} answered HTTP {health.status}",
                                        destination=settings.search_engine)
        except OSError as exc:
            raise DeliveryError(f"cannot reach {settings.search_url}: {exc}",
                                destination=settings.search_engine) from None
        finally:
            await es.close()
    async with _s3_client(settings) as s3:
        for bucket, ensure, field in buckets:
            resp = await (s3.ensure_bucket(bucket) if ensure else s3.head_bucket(bucket))
            if not resp.ok:
                why = resp.error or f"HTTP {resp.status} {resp.error_code}"
                raise DeliveryError(
                    f"{field} {bucket!r} at {settings.s3_endpoint} is not usable: {why}"
                    + ("" if ensure else " (set ensure_bucket: true to create it)"),
                    destination="s3",
                )
