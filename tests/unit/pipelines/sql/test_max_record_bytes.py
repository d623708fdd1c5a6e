"""Runtime.MaxRecordBytes: a record over it (default KDA's 512 KB row limit) is an error row
with its original bytes; the config bounds name the field."""

import json
from pathlib import Path

import pytest
import yaml

from pipelines.runtime.records import SourceRecord
from pipelines.sql.appconfig import DEFAULT_MAX_RECORD_BYTES
from pipelines.sql.application import SqlApplication, check_application
from shardline.errors import ConfigError
from shardline.settings import Settings

APP = Path(__file__).resolve().parents[4] / "tests" / "integration" / "sql_apps" / (
    "tumbling_event_time")


def _app(tmp_path: Path, runtime: dict[str, object]) -> Path:
    config = yaml.safe_load((APP / "application.yaml").read_text())
    config["ApplicationCode"] = str(APP / "app.sql")
    config["Runtime"] = {**config["Runtime"], **runtime}
    (tmp_path / "application.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_default_is_kdas_row_limit(tmp_path: Path) -> None:
    config, _ = check_application(_app(tmp_path, {}))
    assert config.runtime.max_record_bytes == DEFAULT_MAX_RECORD_BYTES == 512 * 1024


@pytest.mark.parametrize("value", [0, 8 * 1_048_576 + 1, "big"])
def test_out_of_range_names_the_field(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match=r"Runtime\.MaxRecordBytes"):
        check_application(_app(tmp_path, {"MaxRecordBytes": value}))


def test_oversized_record_goes_to_the_error_stream(tmp_path: Path) -> None:
    config, plan = check_application(_app(tmp_path, {"MaxRecordBytes": 200}))
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
