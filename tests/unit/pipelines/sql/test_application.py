"""A configured application's partition processors: records in, output and error records out.

The AVRO fast path (one fused decode per record) keeps ROWTIME as the running maximum of the
Kafka timestamps and APPROXIMATE_ARRIVAL_TIME as each record's own, like the generic path,
including around error rows and across batches.

Runtime.MaxRecordBytes: a record over it (default KDA's 512 KB row limit) is an error row with
its original bytes; the config bounds name the field.
"""

import json
from pathlib import Path

import pytest
import yaml

from ground.errors import ConfigError
from ground.settings import Settings
from pipelines.runtime.records import SourceRecord
from pipelines.sql.appconfig import DEFAULT_MAX_RECORD_BYTES
from pipelines.sql.application import SqlApplication, check_application

# -- the AVRO fast path -----------------------------------------------------------------------

AVRO_SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    RT TIMESTAMP, ARRIVAL TIMESTAMP, TICKER_SYMBOL VARCHAR(8));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ROWTIME AS RT, APPROXIMATE_ARRIVAL_TIME AS ARRIVAL, ticker_symbol
FROM "SOURCE_SQL_STREAM_001";
"""
BASE = 1_700_000_000_000
TIMES = [5_000, 3_000, 7_000, 7_000, 2_000, 9_000, 9_000, 1_000]  # up, down, equal
BAD = {4, 6}  # offsets of records that are not Avro


def _avro_app(tmp_path: Path) -> SqlApplication:
    (tmp_path / "app.sql").write_text(AVRO_SQL)
    (tmp_path / "application.yaml").write_text(yaml.safe_dump({
        "ApplicationName": "avro-rowtime",
        "ApplicationCode": "app.sql",
        "Inputs": [{"NamePrefix": "SOURCE_SQL_STREAM", "Topic": "in", "InputSchema": {
            "RecordFormat": {"RecordFormatType": "AVRO", "AvroSchema": "ticker"},
            "RecordColumns": [{"Name": "TICKER_SYMBOL", "SqlType": "VARCHAR(8)",
                               "Mapping": "$.ticker_symbol"}]}}],
        "Outputs": [{"Name": "DESTINATION_SQL_STREAM", "Topic": "out",
                     "DestinationSchema": {"RecordFormatType": "JSON"}}],
        "ErrorOutput": {"Topic": "errors", "RecordFormatType": "JSON"},
    }))
    config, plan = check_application(tmp_path)
    return SqlApplication(config, plan, Settings.from_env({}))


def _batches(split: int) -> list[list[SourceRecord]]:
    from schemas import codec_for

    ticker = codec_for("avro", "ticker")
    records = []
    for i, t in enumerate(TIMES):
        raw = b"not avro" if i in BAD else ticker.encode(
            {"ticker_symbol": f"S{i}", "sector": "TECH", "change": 0.0, "price": 1.0,
             "event_time_ms": BASE + t})
        records.append(SourceRecord("in", 0, i, BASE + t, None, raw))
    return [records[:split], records[split:]] if split else [records]


def _run(app: SqlApplication, batches: list[list[SourceRecord]], fast: bool) -> list[tuple]:
    proc = app.processor("in", 0)
    if not fast:
        proc._decoder.prefixed = None  # the generic path: decode_rows + engine.next_rowtime
    assert (proc._decoder.prefixed is not None) == fast
    got = []
    for batch in batches:
        for o in proc.process(batch):
            row = json.loads(o.value)
            if o.topic == "out":
                got.append(("row", row["TICKER_SYMBOL"], row["RT"], row["ARRIVAL"], o.timestamp_ms))
            else:
                got.append(("error", row["SOURCE_OFFSET"], o.timestamp_ms))
    got.append(("engine rowtime", proc._engine.rowtime))
    return got


@pytest.mark.parametrize("split", [0, 3, 5])
def test_fast_path_rowtime_equals_the_generic_path_and_the_running_maximum(
    tmp_path: Path, split: int
) -> None:
    app = _avro_app(tmp_path)
    fast = _run(app, _batches(split), fast=True)
    assert fast == _run(app, _batches(split), fast=False)
    high, want_rowtimes = 0, []
    for t in TIMES:
        high = max(high, t)
        want_rowtimes.append(BASE + high)
    rows = [g for g in fast if g[0] == "row"]
    assert [r[1] for r in rows] == [f"S{i}" for i in range(len(TIMES)) if i not in BAD]
    assert [r[4] for r in rows] == [want_rowtimes[i] for i in range(len(TIMES)) if i not in BAD]
    errors = [g for g in fast if g[0] == "error"]
    assert errors == [("error", i, want_rowtimes[i]) for i in sorted(BAD)]
    assert fast[-1] == ("engine rowtime", BASE + max(TIMES))


# -- Runtime.MaxRecordBytes -------------------------------------------------------------------

EVENT_TIME_APP = Path(__file__).resolve().parents[4] / "tests" / "integration" / "sql_apps" / (
    "tumbling_event_time")


def _limited_app(tmp_path: Path, runtime: dict[str, object]) -> Path:
    config = yaml.safe_load((EVENT_TIME_APP / "application.yaml").read_text())
    config["ApplicationCode"] = str(EVENT_TIME_APP / "app.sql")
    config["Runtime"] = {**config["Runtime"], **runtime}
    (tmp_path / "application.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_default_is_kdas_row_limit(tmp_path: Path) -> None:
    config, _ = check_application(_limited_app(tmp_path, {}))
    assert config.runtime.max_record_bytes == DEFAULT_MAX_RECORD_BYTES == 512 * 1024


@pytest.mark.parametrize("value", [0, 8 * 1_048_576 + 1, "big"])
def test_out_of_range_names_the_field(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match=r"Runtime\.MaxRecordBytes"):
        check_application(_limited_app(tmp_path, {"MaxRecordBytes": value}))


def test_oversized_record_goes_to_the_error_stream(tmp_path: Path) -> None:
    config, plan = check_application(_limited_app(tmp_path, {"MaxRecordBytes": 200}))
    app = SqlApplication(config, plan, Settings.from_env({}))
    topic = config.inputs[0].topic
    good = json.dumps({"ticker_symbol": "AMZN", "sector": "TECH", "change": 1.0,
                       "price": 2.0, "event_time": 1_700_000_000_000}).encode()
    big = json.dumps({"ticker_symbol": "AMZN", "pad": "x" * 200}).encode()
    exact = good + b" " * (200 - len(good))  # at the limit: still decoded
    batch = [SourceRecord(topic, 0, i, 1_700_000_000_000, None, raw)
             for i, raw in enumerate([good, big, exact])]
    out = app.processor(topic, 0).process(batch)
    errors = [json.loads(o.value) for o in out if o.topic == app.error_topic]
    assert [(e["ERROR_NAME"], e["SOURCE_OFFSET"]) for e in errors] == [("Record_Too_Large", 1)]
    assert bytes.fromhex(errors[0]["DATA_ROW"]) == big
    assert f"{len(big)} bytes" in errors[0]["MESSAGE"]


@pytest.mark.parametrize("limit", [200, 512 * 1024, 8 * 1_048_576])
def test_the_worker_may_write_an_error_row_for_the_largest_record(
    tmp_path: Path, limit: int
) -> None:
    """The producer and the output topics the runtime creates take the error row of a record
    just under the limit (its bytes in hex, plus the row's other fields)."""
    config, plan = check_application(_limited_app(tmp_path, {"MaxRecordBytes": limit}))
    app = SqlApplication(config, plan, Settings.from_env({}))
    topic = config.inputs[0].topic
    raw = b"\xff" * limit  # malformed, at the limit: decoded, rejected, kept in the row
    out = app.processor(topic, 0).process([SourceRecord(topic, 0, 0, 0, None, raw)])
    row = next(o.value for o in out if o.topic == app.error_topic)
    assert len(row) <= app.runtime_config().max_message_bytes
    assert app.runtime_config().max_message_bytes >= 1_000_000


@pytest.mark.parametrize("value", [0, 999, 64 * 1024 * 1024 + 1, True])
def test_runtime_max_message_bytes_is_checked(value: object) -> None:
    from pipelines.runtime import RuntimeConfig

    with pytest.raises(ConfigError, match="max_message_bytes"):
        RuntimeConfig(application_id="a", source_topics=("in",),
                      max_message_bytes=value)  # type: ignore[arg-type]


def test_oversized_avro_record_goes_to_the_error_stream(tmp_path: Path) -> None:
    """The AVRO fast path (one fused decode per record) checks the size limit too."""
    from schemas import codec_for

    config = yaml.safe_load((EVENT_TIME_APP / "application.yaml").read_text())
    config["ApplicationCode"] = str(EVENT_TIME_APP / "app.sql")
    config["Runtime"] = {**config["Runtime"], "MaxRecordBytes": 200}
    schema = config["Inputs"][0]["InputSchema"]
    schema["RecordFormat"] = {"RecordFormatType": "AVRO", "AvroSchema": "ticker"}
    for column in schema["RecordColumns"]:
        if column["Name"] == "EVENT_TIME":
            column["Mapping"] = "$.event_time_ms"
    (tmp_path / "application.yaml").write_text(yaml.safe_dump(config))
    config, plan = check_application(tmp_path)
    app = SqlApplication(config, plan, Settings.from_env({}))
    assert app.processor(config.inputs[0].topic, 0)._decoder.prefixed is not None
    ticker = codec_for("avro", "ticker")
    trade = {"ticker_symbol": "AMZN", "sector": "TECH", "change": 1.0, "price": 2.0,
             "event_time_ms": 1_700_000_000_000}
    good, big = ticker.encode(trade), ticker.encode({**trade, "sector": "x" * 300})
    topic = config.inputs[0].topic
    batch = [SourceRecord(topic, 0, i, 1_700_000_000_000, None, raw)
             for i, raw in enumerate([good, big])]
    out = app.processor(topic, 0).process(batch)
    errors = [json.loads(o.value) for o in out if o.topic == app.error_topic]
    assert [(e["ERROR_NAME"], e["SOURCE_OFFSET"]) for e in errors] == [("Record_Too_Large", 1)]
    assert bytes.fromhex(errors[0]["DATA_ROW"]) == big


# -- repartitioned applications ----------------------------------------------------------------

SECTOR_APP = """\
CREATE OR REPLACE STREAM "PER_SECTOR" (SECTOR VARCHAR(16), N BIGINT);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
GROUP BY sector, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);
"""


def _sector_app(tmp_path: Path, runtime: dict[str, object] | None = None) -> SqlApplication:
    config = yaml.safe_load((EVENT_TIME_APP / "application.yaml").read_text())
    (tmp_path / "app.sql").write_text(SECTOR_APP)
    config["ApplicationCode"] = "app.sql"
    config["Outputs"] = [{"Name": "PER_SECTOR", "Topic": "out",
                          "DestinationSchema": {"RecordFormatType": "JSON"}}]  # fmt: skip
    config["Runtime"] = {**config["Runtime"], **(runtime or {})}
    (tmp_path / "application.yaml").write_text(yaml.safe_dump(config))
    checked, plan = check_application(tmp_path)
    return SqlApplication(checked, plan, Settings.from_env({}))


def test_a_repartitioned_application_reads_and_writes_its_repartition_topic(
    tmp_path: Path,
) -> None:
    from pipelines.sql.application import StageProcessor
    from pipelines.sql.processors import SqlPartitionProcessor

    app = _sector_app(tmp_path)
    topic = "it-sql-tumbling-event-time-SECTOR_PUMP-repartition"
    assert app.repartition_topics == [topic]
    wiring = app.wire({"ticker": 3})  # by default as many partitions as the input
    assert wiring.partitions == {"ticker": 3, topic: 3}
    assert wiring.channels[topic] == {("ticker", 0): 0, ("ticker", 1): 1, ("ticker", 2): 2}
    runtime = app.runtime_config()
    assert runtime.repartition_topics == ((topic, 3),)
    assert runtime.consumed_topics == ("ticker", topic)
    # each topic's partitions split among the workers: every worker gets a share of each stage
    assert runtime.assignment_strategy == "range"
    source, stage = app.processor("ticker", 2), app.processor(topic, 0)
    assert isinstance(source, SqlPartitionProcessor) and isinstance(stage, StageProcessor)
    record = json.dumps({"ticker_symbol": "AAPL", "sector": "TECH", "change": 1.0,
                         "price": 2.0, "event_time": BASE}).encode()  # fmt: skip
    out = source.process([SourceRecord("ticker", 2, 0, BASE, None, record)])
    # no result yet, only what crosses the repartition: a marker to every partition
    assert {o.topic for o in out} == {topic} and sorted(o.partition for o in out) == [0, 1, 2]
    out = source.process([SourceRecord("ticker", 2, 1, BASE + 20_000, None, record)])
    partials = [o for o in out if o.key is not None]
    assert len(partials) == 1 and partials[0].timestamp_ms == BASE + 20_000


def test_repartition_topics_take_the_configured_partition_count(tmp_path: Path) -> None:
    app = _sector_app(tmp_path, {"RepartitionPartitions": 7})
    assert app.wire({"ticker": 3}).partitions[app.repartition_topics[0]] == 7
    assert app.processor(app.repartition_topics[0], 6) is not None


def test_an_output_topic_needs_a_partition_for_each_processor_that_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.sql.application as application

    app = _sector_app(tmp_path, {"RepartitionPartitions": 6})
    counts = {"ticker": 4, "out": 4, app.error_topic: 6}
    monkeypatch.setattr(application, "check_plan", lambda *_args, **_kw: None)  # no broker
    monkeypatch.setattr(application, "list_topic_names", lambda _kafka: list(counts))
    monkeypatch.setattr(application, "partition_count", lambda _kafka, topic: counts[topic])
    # the window's results come from the stage behind the repartition: its 6 partitions
    assert app.wire({"ticker": 4}) and app.written_partitions() == {"out": 6, app.error_topic: 6}
    with pytest.raises(ConfigError) as info:
        app.preflight()
    assert info.value.field == "Outputs"
    assert "topic 'out' has 4 partitions, but 6 partitions" in str(info.value)
    assert "or lower Runtime.RepartitionPartitions" in str(info.value)
    counts["out"] = 8
    app.preflight()
    del counts["out"]  # the worker makes it, with as many partitions as it needs
    app.preflight()
    counts["out"], counts[app.error_topic] = 6, 3  # every stage writes error rows
    with pytest.raises(ConfigError) as info:
        app.preflight()
    assert info.value.field == "ErrorOutput"


@pytest.mark.parametrize("value", [0, -1, "many", 10_001])
def test_repartition_partitions_out_of_range_name_the_field(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        check_application(_limited_app(tmp_path, {"RepartitionPartitions": value}))
    assert info.value.field == "Runtime.RepartitionPartitions"
