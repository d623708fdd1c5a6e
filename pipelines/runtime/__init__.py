"""The exactly-once stream runtime: consume → process → produce in Kafka transactions.

Processors (one per source partition, see :class:`PartitionProcessor`) get batches of
:class:`SourceRecord` and return :class:`OutRecord`; their state changes go to a compacted
changelog topic in the same transaction as the outputs and the input offsets, and come
back through ``restore`` when a partition is assigned. The topics it creates are
``LogAppendTime`` (:mod:`pipelines.runtime.topics`); an output's own time (a SQL result's
ROWTIME) travels in the :data:`ROWTIME_HEADER` header. :func:`run` is the blocking loop;
``shardline.host`` hosts it in a Faust worker.
"""

from ground.clock import Clock, wall_ms
from pipelines.runtime.changelog import ChangelogReader, latest_values
from pipelines.runtime.config import (
    LAST_STOPPED_POINT,
    NOW,
    STARTING_POSITIONS,
    TRIM_HORIZON,
    RuntimeConfig,
    changelog_topic,
)
from pipelines.runtime.idle import IdleTracker
from pipelines.runtime.instance import InstanceSlot, claim_instance, transactional_id
from pipelines.runtime.loop import RunStats, StreamRuntime, run
from pipelines.runtime.plan_record import check_plan, plan_topic
from pipelines.runtime.records import (
    ROWTIME_HEADER,
    OutRecord,
    PartitionProcessor,
    ProcessorFactory,
    SourceRecord,
    rowtime_from_headers,
)
from pipelines.runtime.stable_offsets import StableOffsetProbe, StableOffsets

__all__ = [
    "ChangelogReader",
    "Clock",
    "IdleTracker",
    "InstanceSlot",
    "LAST_STOPPED_POINT",
    "NOW",
    "OutRecord",
    "PartitionProcessor",
    "ProcessorFactory",
    "ROWTIME_HEADER",
    "RunStats",
    "RuntimeConfig",
    "STARTING_POSITIONS",
    "SourceRecord",
    "StableOffsetProbe",
    "StableOffsets",
    "StreamRuntime",
    "TRIM_HORIZON",
    "changelog_topic",
    "check_plan",
    "claim_instance",
    "latest_values",
    "plan_topic",
    "rowtime_from_headers",
    "run",
    "transactional_id",
    "wall_ms",
]
