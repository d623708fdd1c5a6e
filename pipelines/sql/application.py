"""A configured KDA application: config + SQL + reference data → runtime processors.

:func:`check_application` parses and plans without touching Kafka or S3 (``shardline sql
check`` / ``explain``): the pumps (:mod:`.plan`) and the stages they run in, with the
repartitions between them (:mod:`.stages`). :func:`load_sql_application` also loads the
reference tables and gives a :class:`SqlApplication`, whose :meth:`~SqlApplication.processor`
is the runtime's processor factory: one processor per partition of each input topic and
each repartition topic (:mod:`.processors`), all in one consumer group, so that one worker
runs every stage, and several share them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ground.errors import ConfigError, SqlPlanError
from ground.kafka import list_topic_names, partition_count
from ground.settings import Settings
from pipelines.error_rows import ERROR_STREAM_COLUMNS, ErrorRow
from pipelines.runtime import (
    RuntimeConfig,
    StableOffsetProbe,
    StableOffsets,
    changelog_topic,
    check_plan,
    plan_topic,
)
from pipelines.runtime.config import DEFAULT_ASSIGNMENT_STRATEGY
from pipelines.sql.appconfig import ApplicationConfig, Column
from pipelines.sql.decoders import build_decoder
from pipelines.sql.encoders import build_encoder
from pipelines.sql.engine import PartitionEngine
from pipelines.sql.fingerprint import plan_description, plan_fingerprint
from pipelines.sql.kda_import import load_application_file
from pipelines.sql.plan import (
    ERROR_STREAM,
    ApplicationPlan,
    StreamColumn,
    TableInfo,
    plan_application,
)
from pipelines.sql.processors import Emission, Output, SqlPartitionProcessor, StageProcessor
from pipelines.sql.reference import load_reference_tables
from pipelines.sql.shuffle import ExchangeWriter
from pipelines.sql.stages import Stage, Topology, plan_stages
from schemas import catalog_for

#: an error row's fields besides DATA_ROW (names, message, topic, offsets...), generously
ERROR_ROW_OVERHEAD_BYTES = 64 * 1024
#: the largest record a Kafka topic takes by default (the broker's message.max.bytes)
KAFKA_DEFAULT_MESSAGE_BYTES = 1_048_588
#: how the workers of an application with repartition topics share its partitions
STAGE_BALANCED_ASSIGNMENT = "range"

__all__ = [
    "SqlApplication",
    "SqlPartitionProcessor",
    "StageProcessor",
    "Wiring",
    "application_topology",
    "check_application",
    "internal_topics",
    "load_sql_application",
    "sql_application",
]


def _stream_columns(columns: Sequence[Column]) -> list[StreamColumn]:
    return [StreamColumn(c.name, c.sql_type) for c in columns]


def _plan(
    config: ApplicationConfig, tables: dict[str, list[tuple[Any, ...]]] | None
) -> ApplicationPlan:
    inputs = {i.stream_name: _stream_columns(i.columns) for i in config.inputs}
    table_infos = {
        r.table_name: TableInfo(
            r.table_name,
            tuple(_stream_columns(r.columns)),
            tuple((tables or {}).get(r.table_name, ())),
        )
        for r in config.reference_data_sources
    }
    plan = plan_application(
        config.read_code(),
        application=config.application_name,
        inputs=inputs,
        tables=table_infos,
        allowed_lateness_ms=config.event_time.allowed_lateness_ms,
    )
    for output in config.outputs:
        if output.name != ERROR_STREAM and output.name not in plan.streams:
            raise SqlPlanError(
                f"Outputs: stream {output.name} is not created by the application code"
            )
    application_topology(config, plan)  # what cannot be staged fails here too
    return plan


def application_topology(config: ApplicationConfig, plan: ApplicationPlan) -> Topology:
    """The stages of ``plan``, with the inputs' declared ``PartitionKey``."""
    return plan_stages(plan, {i.stream_name: i.partition_key for i in config.inputs})


def internal_topics(
    config: ApplicationConfig, plan: ApplicationPlan, existing: Sequence[str] = ()
) -> list[str]:
    """The topics an application's workers create for themselves: the changelogs of its
    inputs, its repartition topics and their changelogs, the record of its plan
    (:mod:`pipelines.runtime.plan_record`) — and, among ``existing`` topic
    names, repartition topics (and changelogs) of pumps the code no longer has."""
    app = config.application_name
    repartitions = [r.topic for r in application_topology(config, plan).repartitions]
    names = [changelog_topic(app, t) for t in (*(i.topic for i in config.inputs), *repartitions)]
    names.extend(repartitions)
    names.append(plan_topic(app))
    for topic in existing:
        if topic.startswith(f"{app}-") and topic.endswith(
            ("-repartition", "-repartition-changelog")
        ):
            names.append(topic)  # fmt: skip
    return sorted(set(names))


def check_application(
    path: Path | str, **overrides: Any
) -> tuple[ApplicationConfig, ApplicationPlan]:
    """Validate config and SQL; nothing is contacted. Raises ConfigError or SqlError.

    ``path`` is an application folder, its ``application.yaml``, or a
    ``create-application --cli-input-json`` file (:mod:`pipelines.sql.kda_import`)."""
    config = load_application_file(path, **overrides)
    return config, _plan(config, None)


@dataclass(frozen=True, slots=True)
class Wiring:
    """The topology on real topics: every topic's partition count and, for each repartition
    topic, the channel number of each partition that writes it (:mod:`.shuffle`)."""

    partitions: dict[str, int]
    channels: dict[str, dict[tuple[str, int], int]]


class SqlApplication:
    def __init__(
        self, config: ApplicationConfig, plan: ApplicationPlan, settings: Settings
    ) -> None:
        self.config = config
        self.plan = plan
        self.settings = settings
        self.topology = application_topology(config, plan)
        catalog = catalog_for(settings)  # the user's schemas and schema registry
        self._decoders = {
            i.topic: (i, build_decoder(i.input_schema, catalog)) for i in config.inputs
        }
        outputs: dict[str, list[Output]] = {}
        for output in config.outputs:
            if output.name == ERROR_STREAM:
                continue
            columns = [Column(c.name, c.sql_type) for c in plan.streams[output.name].columns]
            outputs.setdefault(output.name, []).append(
                Output(
                    output.name,
                    output.topic,
                    build_encoder(columns, output.record_format_type.value),
                )
            )
        self._outputs = outputs
        self.error_topic = config.error_output.topic
        self.emission = Emission(
            outputs,
            self.error_topic,
            build_encoder(ERROR_STREAM_COLUMNS, config.error_output.record_format_type.value),
            config.runtime.max_record_bytes,
            config.event_time.allowed_lateness_ms,
        )
        self._wiring: Wiring | None = None
        #: the folder or file it was loaded from (``shardline sql reset`` takes it)
        self.source: Path | None = None
        #: What the stages behind a repartition ask before their time passes an idle
        #: upstream partition (:mod:`.shuffle`): the broker's last stable offsets; None
        #: (offline) never holds a stage for an idle partition.
        self.stable_offsets: StableOffsetProbe | None = StableOffsets(settings.kafka)
        self._stage_of_topic = {r.topic: self.topology.stage_of(r.topic)
                                for r in self.topology.repartitions}  # fmt: skip

    def new_poll(self) -> None:
        """The runtime polled again (its ``on_poll``): the stage partitions' probes of this
        poll share one request (:class:`~pipelines.runtime.StableOffsets`)."""
        if isinstance(self.stable_offsets, StableOffsets):
            self.stable_offsets.new_poll()

    # -- topics ---------------------------------------------------------------------------
    @property
    def repartition_topics(self) -> list[str]:
        return [r.topic for r in self.topology.repartitions]

    def wire(self, input_partitions: Mapping[str, int]) -> Wiring:
        """Fix the partition counts: ``input_partitions`` per input topic; each repartition
        topic gets ``Runtime.RepartitionPartitions`` or the inputs' largest count."""
        partitions = {i.topic: input_partitions[i.topic] for i in self.config.inputs}
        count = self.config.runtime.repartition_partitions or max(partitions.values())
        for r in self.topology.repartitions:
            partitions[r.topic] = count
        stream_topic = {i.stream_name: i.topic for i in self.config.inputs}
        channels: dict[str, dict[tuple[str, int], int]] = {}
        for r in self.topology.repartitions:
            writers: dict[tuple[str, int], int] = {}
            for stage, outbound in self.topology.writers(r):
                if stage.reads is not None:
                    topics = [stage.reads.topic]
                else:
                    topics = [
                        topic
                        for stream, topic in stream_topic.items()
                        if outbound.stream in stage.reachable(stream)
                    ]
                for topic in topics:
                    for p in range(partitions[topic]):
                        writers.setdefault((topic, p), len(writers))
            channels[r.topic] = writers
        self._wiring = Wiring(partitions, channels)
        return self._wiring

    @property
    def wiring(self) -> Wiring:
        """The wiring (read from Kafka the first time, unless :meth:`wire` was called)."""
        if self._wiring is None:
            self._wiring = self.wire(
                {i.topic: self._input_partitions(i.topic) for i in self.config.inputs}
                if self.topology.repartitions
                else {i.topic: 1 for i in self.config.inputs}
            )
        return self._wiring

    def _input_partitions(self, topic: str) -> int:
        return partition_count(self.settings.kafka, topic)

    def runtime_config(self, *, instance_id: str | None = None) -> RuntimeConfig:
        topics = [o.topic for outs in self._outputs.values() for o in outs] + [self.error_topic]
        runtime = self.config.runtime
        wiring = self.wiring
        return RuntimeConfig(
            application_id=self.config.application_name,
            source_topics=tuple(i.topic for i in self.config.inputs),
            starting_position=str(self.config.inputs[0].starting_position.value),
            commit_interval_ms=runtime.commit_interval_ms,
            batch_max_records=runtime.batch_max_records,
            idle_timeout_ms=self.config.event_time.idle_timeout_ms,
            transaction_timeout_ms=runtime.transaction_timeout_ms,
            session_timeout_ms=runtime.session_timeout_ms,
            instance_id=instance_id,
            output_topics=tuple(dict.fromkeys(topics)),
            repartition_topics=tuple(
                (topic, wiring.partitions[topic]) for topic in self.repartition_topics
            ),
            # Workers must share each stage, not just the partitions: cooperative-sticky
            # balances the count of partitions over all topics (a second worker can get every
            # repartition partition and no input one); range splits each topic's partitions
            # among the workers, as Kafka Streams balances each sub-topology's tasks.
            assignment_strategy=(
                STAGE_BALANCED_ASSIGNMENT
                if self.topology.repartitions
                else DEFAULT_ASSIGNMENT_STRATEGY
            ),
            # an error row holds a rejected input in hex: twice its size, plus the row. A
            # Record_Too_Large row holds an input over the limit: as big as Kafka let it be
            max_message_bytes=2 * max(runtime.max_record_bytes, KAFKA_DEFAULT_MESSAGE_BYTES)
            + ERROR_ROW_OVERHEAD_BYTES,
        )

    def preflight(self) -> None:
        """Check the topics before a worker starts, each failure one clear error: every
        input topic must exist (a missing topic or an unreachable broker fails here, not
        inside the worker). Their partition counts fix the repartition topics' (:meth:`wire`).
        An output or error topic made elsewhere must have a partition for every processor
        that writes it (:meth:`written_partitions`); the worker makes the others. The
        application's internal topics must have been made by this plan (:attr:`fingerprint`,
        :mod:`pipelines.runtime.plan_record`): else a reset is named.
        """
        self.wire({i.topic: self._input_partitions(i.topic) for i in self.config.inputs})
        kafka = self.settings.kafka
        existing = set(list_topic_names(kafka))
        check_plan(
            kafka,
            self.config.application_name,
            self.fingerprint,
            plan_description(self.topology),
            reset_command=f"shardline sql reset {self.source or '<the application folder>'}",
        )
        inputs = max(self.wiring.partitions[i.topic] for i in self.config.inputs)
        for topic, need in self.written_partitions().items():
            have = partition_count(kafka, topic) if topic in existing else need
            if have < need:
                field = "ErrorOutput" if topic == self.error_topic else "Outputs"
                hint = " or lower Runtime.RepartitionPartitions" if need > inputs else ""
                raise ConfigError(
                    field,
                    f"topic {topic!r} has {have} partitions, but {need} partitions of the "
                    f"application's topics write it (each to the partition of its number): give "
                    f"it {need} partitions (kafka-topics.sh --alter --partitions {need}){hint}",
                )

    @property
    def fingerprint(self) -> str:
        """What its internal topics hold, in 16 hex digits (:mod:`pipelines.sql.fingerprint`)."""
        return plan_fingerprint(self.topology, self.plan)

    def written_partitions(self) -> dict[str, int]:
        """Per output and error topic, the most partitions of a topic whose processors write
        it. A processor writes its results to the partition of its own number, so that a
        result's key always lands in one partition; the topic must have that partition."""
        wiring = self.wiring
        need: dict[str, int] = {}
        for stage in self.topology.stages:
            reads = [stage.reads.topic] if stage.reads else [i.topic for i in self.config.inputs]
            n = max(wiring.partitions[t] for t in reads)
            topics = [self.error_topic]
            if stage.reads is None:  # an input stream may be an output too
                topics += [o.topic for i in self.config.inputs
                           for o in self._outputs.get(i.stream_name, ())]  # fmt: skip
            topics += [o.topic for step in stage.steps for o in self._outputs.get(step.target, ())]
            for topic in topics:
                need[topic] = max(need.get(topic, 0), n)
        return need

    # -- processors -----------------------------------------------------------------------
    def processor(self, topic: str, partition: int) -> SqlPartitionProcessor | StageProcessor:
        """The processor of one partition of an input or repartition topic."""
        stage = self._stage_of_topic.get(topic)
        if stage is None:
            spec, decoder = self._decoders[topic]
            stage = self.topology.stages[0]
            reach = stage.reachable(spec.stream_name)
            engine = PartitionEngine(
                self.plan,
                partition=partition,
                allowed_lateness_ms=self.config.event_time.allowed_lateness_ms,
                steps=stage.steps,
                quiet_after_ms=self.config.event_time.idle_timeout_ms,
            )
            writers = self._writers(stage, topic, partition, reach)
            return SqlPartitionProcessor(
                self.emission, engine, writers, spec.stream_name, decoder, topic, partition
            )
        assert stage.reads is not None
        channels = len(self.wiring.channels[stage.reads.topic])
        writers = self._writers(stage, topic, partition, None)
        return StageProcessor(
            self.emission, self.plan, stage, writers, channels, topic, partition,
            self.stable_offsets, self.config.event_time.idle_timeout_ms,
        )  # fmt: skip

    def _writers(
        self, stage: Stage, topic: str, partition: int, reach: set[str] | None
    ) -> list[ExchangeWriter]:
        if not stage.outbound:
            return []
        wiring = self.wiring
        out = []
        for outbound in stage.outbound:
            if reach is not None and outbound.stream not in reach:
                continue
            target = outbound.repartition.topic
            channel = wiring.channels[target][(topic, partition)]
            out.append(ExchangeWriter(outbound, wiring.partitions[target], channel))
        return out

    # used by tests and tools
    def outputs(self) -> dict[str, list[Output]]:
        return self._outputs

    def encode_error(self, row: ErrorRow) -> bytes:
        return self.emission.encode_error(row)


def sql_application(
    config: ApplicationConfig,
    settings: Settings,
    tables: dict[str, list[tuple[Any, ...]]] | None = None,
) -> SqlApplication:
    """The application of a loaded ``config``, its reference tables' rows given (offline)."""
    return SqlApplication(config, _plan(config, tables), settings)


def load_sql_application(path: Path | str, settings: Settings, **overrides: Any) -> SqlApplication:
    """Config + SQL + reference tables (read from S3/MinIO once, at start-up)."""
    config = load_application_file(path, **overrides)
    tables: dict[str, list[tuple[Any, ...]]] = {}
    if config.reference_data_sources:
        tables = asyncio.run(load_reference_tables(config, settings))
    application = SqlApplication(config, _plan(config, tables), settings)
    application.source = Path(path)
    return application
