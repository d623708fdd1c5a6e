"""Runs a ``pipeline.yaml`` pipeline on the exactly-once runtime (``pipelines/runtime``).

The pipeline's windows are a :class:`~pipelines.ticker_processor.TickerWindowsProcessor`
per input partition. The runtime consumes, processes and produces in Kafka transactions
that also carry the processor's state changes (its changelog) and the input offsets, so a
kill -9, a restart or a rebalance neither loses nor repeats a record or a window result.
(Before, this pipeline was a Faust agent relying on Faust's own offset handling, which can
drop a record around its seek after a restart or a rebalance.)
"""

from __future__ import annotations

import logging

from ground.kafka import ensure_topics, partition_count
from ground.settings import Settings
from pipelines.config import PipelineConfig
from pipelines.runtime import RunStats, RuntimeConfig, run_worker
from pipelines.ticker_processor import Decoder, TickerWindowsProcessor

__all__ = ["run_pipeline", "runtime_config"]

log = logging.getLogger(__name__)


def runtime_config(config: PipelineConfig, *, instance_id: str | None = None) -> RuntimeConfig:
    """The runtime settings of ``config``: its app id is the consumer group and the prefix
    of the transactional ids and of the changelog topic."""
    return RuntimeConfig(
        application_id=config.app_id,
        source_topics=(config.input_topic,),
        output_topics=(config.output_topic, config.error_topic),
        batch_max_records=config.batch_max_records,
        idle_timeout_ms=config.idle_timeout_ms,
        instance_id=instance_id,
    )


def run_pipeline(
    config: PipelineConfig,
    settings: Settings,
    decode: Decoder,
    *,
    until_idle_s: float | None = None,
    instance_id: str | None = None,
    loglevel: str = "warn",
) -> RunStats:
    """Run the pipeline in this process until stopped (SIGINT/SIGTERM) or, with
    ``until_idle_s``, until the input has been quiet that long and every window is out.
    The output and error topics are created (as many partitions as the input) if missing."""
    partitions = partition_count(settings.kafka, config.input_topic)
    ensure_topics(settings.kafka, [config.output_topic, config.error_topic], partitions)
    stats = run_worker(
        runtime_config(config, instance_id=instance_id),
        settings,
        lambda _topic, p: TickerWindowsProcessor(config, p, decode),
        loglevel=loglevel,
        until_idle_ms=None if until_idle_s is None else int(until_idle_s * 1000),
    )
    log.warning("pipeline %s stopped: %s", config.app_id, stats)
    return stats
