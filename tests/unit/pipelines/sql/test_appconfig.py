import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ground.errors import ConfigError
from pipelines.sql.appconfig import (
    ApplicationConfig,
    OutputFormat,
    ProcessingGuarantee,
    RecordFormatType,
    StartingPosition,
    load_application,
)
from pipelines.sql.types import SqlType, TypeKind, parse_type

EXAMPLE = Path(__file__).parents[4] / "examples" / "applications" / "ticker_analytics"


def base() -> dict[str, Any]:
    return {
        "ApplicationName": "app",
        "Inputs": [
            {
                "NamePrefix": "SOURCE_SQL_STREAM",
                "Topic": "in",
                "InputSchema": {
                    "RecordFormat": {"RecordFormatType": "JSON"},
                    "RecordColumns": [
                        {"Name": "A", "SqlType": "VARCHAR(4)", "Mapping": "$.a"},
                        {"Name": "B", "SqlType": "INTEGER", "Mapping": "$.b"},
                        {"Name": "C", "SqlType": "TIMESTAMP", "Mapping": "$.c"},
                    ],
                },
            }
        ],
        "Outputs": [{"Name": "DESTINATION_SQL_STREAM", "Topic": "out"}],
    }


def parse(data: dict[str, Any]) -> ApplicationConfig:
    return ApplicationConfig.from_mapping(data, ".", check_code=False)


def cols(data: dict[str, Any], i: int = 0) -> list[dict[str, Any]]:
    return data["Inputs"][i]["InputSchema"]["RecordColumns"]


def fmt(data: dict[str, Any]) -> dict[str, Any]:
    return data["Inputs"][0]["InputSchema"]["RecordFormat"]


def reference(data: dict[str, Any], **s3: Any) -> dict[str, Any]:
    ref = {
        "TableName": "COMPANY",
        "S3ReferenceDataSource": s3 or {"BucketARN": "arn:aws:s3:::refdata", "FileKey": "c.csv"},
        "ReferenceSchema": {
            "RecordFormat": {"RecordFormatType": "CSV"},
            "RecordColumns": [{"Name": "TICKER", "SqlType": "VARCHAR(4)"}],
        },
    }
    data["ReferenceDataSources"] = [ref]
    return ref


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ticker-analytics"
    shutil.copytree(EXAMPLE, folder)
    (folder / "app.sql").write_text('SELECT STREAM * FROM "SOURCE_SQL_STREAM_001";\n')
    return folder


def test_example_loads_with_kda_names(app_dir: Path) -> None:
    config = load_application(app_dir)
    assert config.application_name == "ticker-analytics"
    (inp,) = config.inputs
    assert inp.stream_name == "SOURCE_SQL_STREAM_001"
    assert inp.topic == "ticker" and inp.starting_position is StartingPosition.TRIM_HORIZON
    assert inp.partition_key == ("TICKER_SYMBOL",)
    assert inp.input_schema.format_type is RecordFormatType.AVRO
    assert [(c.name, str(c.sql_type)) for c in inp.columns] == [
        ("TICKER_SYMBOL", "VARCHAR(4)"),
        ("SECTOR", "VARCHAR(16)"),
        ("CHANGE", "REAL"),
        ("PRICE", "REAL"),
        ("EVENT_TIME", "TIMESTAMP"),
    ]
    assert config.outputs[0].name == "DESTINATION_SQL_STREAM"
    assert config.outputs[0].record_format_type is OutputFormat.JSON
    assert config.error_output.topic == "ticker-analytics-errors"
    assert config.event_time.allowed_lateness_ms == 5000
    assert config.runtime.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE
    assert config.read_code().startswith("SELECT STREAM")
    assert config.input_for_stream("SOURCE_SQL_STREAM_001") is inp
    assert config.group_id == config.transactional_id_prefix == "ticker-analytics"
    assert load_application(app_dir / "application.yaml") == config


def test_folder_without_sql_file_is_an_error_naming_application_code(tmp_path: Path) -> None:
    (tmp_path / "application.yaml").write_text(yaml.safe_dump(base()))
    with pytest.raises(ConfigError) as err:
        load_application(tmp_path)
    assert err.value.field == "ApplicationCode"


def test_json_file_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "app.sql").write_text("--")
    data = base()
    del data["Outputs"]
    (tmp_path / "application.json").write_text(json.dumps(data))
    config = load_application(tmp_path)
    assert config.error_output.topic == "app-errors"
    assert config.outputs == ()
    assert config.inputs[0].starting_position.auto_offset_reset == "earliest"
    assert config.inputs[0].input_schema.record_format.record_row_path == "$"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("application.yaml", b"Inputs: [", "not valid YAML: "),
        ("application.json", b"{", "not valid JSON: "),
        ("application.yaml", b"Name: \xff", "not valid YAML: 'utf-8' codec can't decode"),
        ("application.yaml", b"- a list", "expected a mapping at the top level"),
    ],
)
def test_a_file_that_does_not_parse_is_an_error_naming_it(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_application(tmp_path)
    assert err.value.field == str(tmp_path / name)
    assert err.value.message.startswith(message)
    with pytest.raises(ConfigError) as err:
        load_application(tmp_path / "elsewhere.yaml")
    assert err.value.message == "application config not found"
    (tmp_path / name).unlink()
    with pytest.raises(ConfigError) as err:
        load_application(tmp_path)
    assert err.value.field == str(tmp_path)
    assert "no application.yaml or application.yml or application.json" in err.value.message


def test_overrides_are_validated_like_the_file(app_dir: Path) -> None:
    config = load_application(
        app_dir, application_name="other", starting_position="NOW", batch_max_records=None
    )
    assert config.application_name == "other"
    assert config.inputs[0].starting_position is StartingPosition.NOW
    assert config.runtime.batch_max_records == 1000  # None is "not given"
    with pytest.raises(ConfigError) as err:
        load_application(app_dir, idle_timeout_ms=0)
    assert err.value.field == "EventTime.IdleTimeoutMs"
    with pytest.raises(ConfigError) as err:
        load_application(app_dir, nonsense=1)
    assert err.value.field == "nonsense"


def test_names_are_kept_as_written() -> None:
    data = base()
    cols(data)[0]["Name"] = "Ticker"
    config = parse(data)
    assert config.inputs[0].columns[0].name == "Ticker"


def test_avro_columns_map_fields_case_insensitively_without_mapping() -> None:
    data = base()
    fmt(data).update(RecordFormatType="AVRO", AvroSchema="ticker")
    cols(data)[:] = [
        {"Name": "TICKER_SYMBOL", "SqlType": "VARCHAR(4)"},
        {"Name": "PRICE", "SqlType": "REAL", "Mapping": "price"},
        {"Name": "T", "SqlType": "TIMESTAMP", "Mapping": "$.event_time_ms"},
    ]
    columns = parse(data).inputs[0].columns
    assert [c.mapping for c in columns] == ["$['ticker_symbol']", "$['price']", "$.event_time_ms"]


def test_reference_source_takes_an_arn_or_a_bucket() -> None:
    data = base()
    reference(data)
    ref = parse(data).reference_data_sources[0]
    assert (ref.bucket, ref.file_key, ref.table_name) == ("refdata", "c.csv", "COMPANY")
    assert ref.path == "ReferenceDataSources[0]"
    reference(data, Bucket="refdata", FileKey="k.json", ReferenceRoleARN="arn:aws:iam::1:role/r")
    assert parse(data).reference_data_sources[0].bucket == "refdata"


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = data
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()
_COLS = "Inputs/0/InputSchema/RecordColumns"
_FMT = "Inputs/0/InputSchema/RecordFormat"
_COLS_FIELD = "Inputs[0].InputSchema.RecordColumns"


def _csv(data: dict[str, Any]) -> None:
    fmt(data)["RecordFormatType"] = "CSV"
    for c in cols(data):
        del c["Mapping"]


def _two_flattened(data: dict[str, Any]) -> None:
    cols(data)[0]["Mapping"] = "$.x[0:].a"
    cols(data)[1]["Mapping"] = "$.y[0:].b"


def _ref(**s3: Any) -> Any:
    return lambda data: reference(data, **s3)


def _ref_avro(data: dict[str, Any]) -> None:
    reference(data)["ReferenceSchema"]["RecordFormat"]["RecordFormatType"] = "AVRO"


def _avro(mapping: str | None) -> Any:
    def change(data: dict[str, Any]) -> None:
        fmt(data).update(RecordFormatType="AVRO", AvroSchema="ticker")
        cols(data)[:] = [{"Name": "NOPE", "SqlType": "REAL"}]
        if mapping is not None:
            cols(data)[0]["Mapping"] = mapping

    return change


INVALID = [
    (_set("Bogus", 1), "Bogus"),
    (_set("ApplicationName", "has space"), "ApplicationName"),
    (_set("Inputs", _DELETE), "Inputs"),
    (_set("Inputs", []), "Inputs"),
    (_set("Inputs/0/Bogus", 1), "Inputs[0].Bogus"),
    (_set("Inputs/0/Topic", "bad topic"), "Inputs[0].Topic"),
    (_set("Inputs/0/NamePrefix", "SOURCE-STREAM"), "Inputs[0].NamePrefix"),
    (_set("Inputs/0/StartingPosition", "LATEST"), "Inputs[0].StartingPosition"),
    (_set("Inputs/0/PartitionKey", ["Z"]), "Inputs[0].PartitionKey"),
    (_set("Inputs/0/InputSchema", _DELETE), "Inputs[0].InputSchema"),
    (_set("Inputs/0/InputSchema/RecordEncoding", "UTF-16"), "Inputs[0].InputSchema.RecordEncoding"),
    (
        _set(f"{_FMT}/RecordFormatType", "XML"),
        "Inputs[0].InputSchema.RecordFormat.RecordFormatType",
    ),
    (
        _set(f"{_FMT}/MappingParameters", {"CSVMappingParameters": {"RecordRowDelimiter": "\n"}}),
        "Inputs[0].InputSchema.RecordFormat.MappingParameters.CSVMappingParameters",
    ),
    (
        _set(
            f"{_FMT}/MappingParameters", {"JSONMappingParameters": {"RecordRowPath": "$.r[0:].x"}}
        ),
        "Inputs[0].InputSchema.RecordFormat.MappingParameters.JSONMappingParameters.RecordRowPath",
    ),
    (_set(f"{_FMT}/AvroSchema", "ticker"), "Inputs[0].InputSchema.RecordFormat.AvroSchema"),
    (_set(f"{_COLS}/2/SqlType", "VARCHAR2(3)"), f"{_COLS_FIELD}[2].SqlType"),
    (_set(f"{_COLS}/2/SqlType", "INTEGER(3)"), f"{_COLS_FIELD}[2].SqlType"),
    (_set(f"{_COLS}/1/Name", "A"), f"{_COLS_FIELD}[1].Name"),
    (_set(f"{_COLS}/1/Name", "has space"), f"{_COLS_FIELD}[1].Name"),
    (_set(f"{_COLS}/0/Mapping", _DELETE), f"{_COLS_FIELD}[0].Mapping"),
    (_set(f"{_COLS}/0/Mapping", "a.b"), f"{_COLS_FIELD}[0].Mapping"),
    (_set(f"{_COLS}/0/Mapping", "$.a[0:].b[0:].c"), f"{_COLS_FIELD}[0].Mapping"),
    (_set(f"{_COLS}/0/Bogus", 1), f"{_COLS_FIELD}[0].Bogus"),
    (_set(f"{_COLS}/0/IsDropped", True), f"{_COLS_FIELD}[0].IsDropped"),
    (_set(_COLS, []), _COLS_FIELD),
    (_two_flattened, f"{_COLS_FIELD}[1].Mapping"),
    (lambda d: (_csv(d), cols(d)[1].update(Mapping="$.b")), f"{_COLS_FIELD}[1].Mapping"),
    (
        lambda d: (
            _csv(d),
            fmt(d).update(
                MappingParameters={"CSVMappingParameters": {"RecordColumnDelimiter": ""}}
            ),
        ),
        "Inputs[0].InputSchema.RecordFormat.MappingParameters.CSVMappingParameters"
        ".RecordColumnDelimiter",
    ),
    (_avro(None), f"{_COLS_FIELD}[0].Mapping"),
    (_avro("$.nope"), f"{_COLS_FIELD}[0].Mapping"),
    (
        lambda d: (_avro(None)(d), fmt(d).update(AvroSchema="nope")),
        "Inputs[0].InputSchema.RecordFormat.AvroSchema",
    ),
    (_set("Outputs/0/Topic", "in"), "Outputs[0].Topic"),
    (
        _set("Outputs/0/DestinationSchema", {"RecordFormatType": "AVRO"}),
        "Outputs[0].DestinationSchema.RecordFormatType",
    ),
    (_set("Outputs/0/Name", _DELETE), "Outputs[0].Name"),
    (_set("ErrorOutput", {"Topic": "out"}), "ErrorOutput.Topic"),
    (_set("ErrorOutput", {"Topic": "e", "Bogus": 1}), "ErrorOutput.Bogus"),
    (_set("EventTime", {"AllowedLatenessMs": -1}), "EventTime.AllowedLatenessMs"),
    (_set("EventTime", {"IdleTimeoutMs": "5s"}), "EventTime.IdleTimeoutMs"),
    (_set("Runtime", {"ProcessingGuarantee": "MAYBE"}), "Runtime.ProcessingGuarantee"),
    (_set("Runtime", {"BatchMaxRecords": True}), "Runtime.BatchMaxRecords"),
    (_set("Runtime", {"TransactionTimeoutMs": 999}), "Runtime.TransactionTimeoutMs"),
    (_set("Runtime", {"SessionTimeoutMs": 300_001}), "Runtime.SessionTimeoutMs"),
    (_set("Runtime", {"CommitIntervalMs": 3_000, "TransactionTimeoutMs": 10_000}),
     "Runtime.CommitIntervalMs"),
    (_ref(BucketARN="arn:aws:iam::1:role/x", FileKey="k"),
     "ReferenceDataSources[0].S3ReferenceDataSource.BucketARN"),
    (_ref(Bucket="b", BucketARN="arn:aws:s3:::b", FileKey="k"),
     "ReferenceDataSources[0].S3ReferenceDataSource.Bucket"),
    (_ref(Bucket="Not_A_Bucket", FileKey="k"),
     "ReferenceDataSources[0].S3ReferenceDataSource.Bucket"),
    (_ref(Bucket="refdata"), "ReferenceDataSources[0].S3ReferenceDataSource.FileKey"),
    (_ref_avro, "ReferenceDataSources[0].ReferenceSchema.RecordFormat.RecordFormatType"),
    (
        lambda d: reference(d).update(TableName="SOURCE_SQL_STREAM_001"),
        "ReferenceDataSources[0].TableName",
    ),
]


@pytest.mark.parametrize(("change", "field"), INVALID)
def test_every_error_names_its_field(change: Any, field: str) -> None:
    data = copy.deepcopy(base())
    change(data)
    with pytest.raises(ConfigError) as err:
        parse(data)
    assert err.value.field == field, str(err.value)


def test_runtime_timeouts_reach_the_runtime() -> None:
    from ground.settings import Settings
    from pipelines.sql.application import SqlApplication, _plan

    data = base()
    data["Runtime"] = {"TransactionTimeoutMs": 12_000, "SessionTimeoutMs": 6_000}
    config = ApplicationConfig.from_mapping(data, ".", check_code=False)
    config = ApplicationConfig(**{
        **{f: getattr(config, f) for f in config.__dataclass_fields__},
        "code_text": 'CREATE STREAM "DESTINATION_SQL_STREAM" (A VARCHAR(4));',
    })  # fmt: skip
    runtime = SqlApplication(config, _plan(config, None), Settings.from_env({})).runtime_config()
    assert (runtime.transaction_timeout_ms, runtime.session_timeout_ms) == (12_000, 6_000)
    assert parse(base()).runtime.transaction_timeout_ms == 30_000


def test_unknown_keys_list_the_known_ones() -> None:
    data = base()
    data["Inputs"][0]["Tpoic"] = "x"
    with pytest.raises(ConfigError, match="known: NamePrefix, Topic, StartingPosition"):
        parse(data)


def test_types_parse_with_kda_aliases() -> None:
    data = base()
    cols(data)[1]["SqlType"] = "double precision"
    assert parse(data).inputs[0].columns[1].sql_type == SqlType(TypeKind.DOUBLE)
    assert parse_type("DECIMAL(5,2)") == SqlType(TypeKind.DECIMAL, precision=5, scale=2)


def test_an_application_without_runtime_settings_runs_with_the_runtime_defaults() -> None:
    """One default per knob: the Runtime and EventTime sections default to the runtime's
    own values, and BatchMaxRecords stays the 1,000 SQL applications have run with."""
    from ground.settings import Settings
    from pipelines.runtime import RuntimeConfig
    from pipelines.sql.application import SqlApplication, _plan

    config = ApplicationConfig.from_mapping(base(), ".", check_code=False)
    config = ApplicationConfig(**{
        **{f: getattr(config, f) for f in config.__dataclass_fields__},
        "code_text": 'CREATE STREAM "DESTINATION_SQL_STREAM" (A VARCHAR(4));',
    })  # fmt: skip
    runtime = SqlApplication(config, _plan(config, None), Settings.from_env({})).runtime_config()
    defaults = RuntimeConfig("other", ("t",))
    knobs = ("commit_interval_ms", "batch_max_records", "idle_timeout_ms",
             "transaction_timeout_ms", "session_timeout_ms")  # fmt: skip
    assert {k: getattr(runtime, k) for k in knobs} == {k: getattr(defaults, k) for k in knobs}
    assert runtime.batch_max_records == defaults.batch_max_records == 1_000
