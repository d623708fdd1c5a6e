"""Migration from KDA: describe-application in, application.yaml data out and back."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ground.errors import ConfigError
from pipelines.sql.appconfig import ApplicationConfig, OutputFormat, StartingPosition
from pipelines.sql.kda_import import (
    import_kda_description,
    is_create_application_request,
    kda_resources,
    load_application_file,
    to_mapping,
)

DESCRIPTION: dict[str, Any] = {
    "ApplicationDetail": {
        "ApplicationName": "sample-app",
        "ApplicationDescription": "migrated",
        "ApplicationARN": "arn:aws:kinesisanalytics:us-east-1:123:application/sample-app",
        "ApplicationStatus": "RUNNING",
        "CreateTimestamp": 1.7e9,
        "ApplicationVersionId": 7,
        "ApplicationCode": 'CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (x INT);\n',
        "InputDescriptions": [
            {
                "InputId": "1.1",
                "NamePrefix": "SOURCE_SQL_STREAM",
                "InAppStreamNames": ["SOURCE_SQL_STREAM_001"],
                "KinesisStreamsInputDescription": {
                    "ResourceARN": "arn:aws:kinesis:us-east-1:123:stream/kinesis-analytics-demo",
                    "RoleARN": "arn:aws:iam::123:role/r",
                },
                "InputSchema": {
                    "RecordFormat": {
                        "RecordFormatType": "JSON",
                        "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}},
                    },
                    "RecordEncoding": "UTF-8",
                    "RecordColumns": [
                        {
                            "Name": "TICKER_SYMBOL",
                            "Mapping": "$.TICKER_SYMBOL",
                            "SqlType": "VARCHAR(4)",
                        },
                        {"Name": "PRICE", "Mapping": "$.PRICE", "SqlType": "DECIMAL(5,2)"},
                    ],
                },
                "InputParallelism": {"Count": 1},
                "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"},
            }
        ],
        "OutputDescriptions": [
            {
                "OutputId": "1.2",
                "Name": "DESTINATION_SQL_STREAM",
                "KinesisFirehoseOutputDescription": {
                    "ResourceARN": "arn:aws:firehose:us-east-1:123:deliverystream/to-s3",
                    "RoleARN": "arn:aws:iam::123:role/r",
                },
                "DestinationSchema": {"RecordFormatType": "CSV"},
            },
            {
                "OutputId": "1.3",
                "Name": "error_stream",
                "KinesisStreamsOutputDescription": {
                    "ResourceARN": "arn:aws:kinesis:us-east-1:123:stream/app-errors",
                },
                "DestinationSchema": {"RecordFormatType": "JSON"},
            },
        ],
        "ReferenceDataSourceDescriptions": [
            {
                "ReferenceId": "1.4",
                "TableName": "CompanyName",
                "S3ReferenceDataSourceDescription": {
                    "BucketARN": "arn:aws:s3:::kda-reference",
                    "FileKey": "TickerReference.csv",
                    "ReferenceRoleARN": "arn:aws:iam::123:role/r",
                },
                "ReferenceSchema": {
                    "RecordFormat": {
                        "RecordFormatType": "CSV",
                        "MappingParameters": {
                            "CSVMappingParameters": {
                                "RecordRowDelimiter": "\n",
                                "RecordColumnDelimiter": ",",
                            }
                        },
                    },
                    "RecordEncoding": "UTF-8",
                    "RecordColumns": [
                        {"Name": "Ticker", "SqlType": "VARCHAR(4)"},
                        {"Name": "Company", "SqlType": "VARCHAR(20)"},
                    ],
                },
            }
        ],
        "CloudWatchLoggingOptionDescriptions": [],
    }
}
TOPICS = {"kinesis-analytics-demo": "ticker", "to-s3": "ticker-out", "app-errors": "ticker-err"}


def test_import_of_describe_application() -> None:
    config = import_kda_description(DESCRIPTION, TOPICS)
    assert config.application_name == "sample-app"
    (inp,) = config.inputs
    assert (inp.stream_name, inp.topic) == ("SOURCE_SQL_STREAM_001", "ticker")
    assert inp.starting_position is StartingPosition.NOW
    assert [c.name for c in inp.columns] == ["TICKER_SYMBOL", "PRICE"]
    (out,) = config.outputs
    assert (out.name, out.topic, out.record_format_type) == (
        "DESTINATION_SQL_STREAM",
        "ticker-out",
        OutputFormat.CSV,
    )
    assert config.error_output.topic == "ticker-err"
    ref = config.reference_data_sources[0]
    assert (ref.table_name, ref.bucket, ref.file_key) == (
        "CompanyName",
        "kda-reference",
        "TickerReference.csv",
    )
    assert config.read_code().startswith("CREATE OR REPLACE STREAM")
    assert import_kda_description(DESCRIPTION["ApplicationDetail"], TOPICS) == config


def test_import_then_export_round_trips() -> None:
    config = import_kda_description(DESCRIPTION, TOPICS)
    again = ApplicationConfig.from_mapping(to_mapping(config), ".", check_code=False)
    assert again.inputs == config.inputs
    assert again.outputs == config.outputs
    assert again.reference_data_sources == config.reference_data_sources
    assert again.error_output == config.error_output
    assert yaml.safe_load(yaml.safe_dump(to_mapping(config))) == to_mapping(config)


def test_import_needs_a_topic_for_every_stream() -> None:
    with pytest.raises(ConfigError) as err:
        import_kda_description(DESCRIPTION, {"kinesis-analytics-demo": "ticker"})
    assert err.value.field == "OutputDescriptions[0].KinesisFirehoseOutputDescription.ResourceARN"


def test_import_rejects_preprocessing_and_parallelism() -> None:
    data = copy.deepcopy(DESCRIPTION)
    data["ApplicationDetail"]["InputDescriptions"][0]["InputParallelism"] = {"Count": 2}
    with pytest.raises(ConfigError) as err:
        import_kda_description(data, TOPICS)
    assert err.value.field == "InputDescriptions[0].InputParallelism.Count"
    data = copy.deepcopy(DESCRIPTION)
    data["ApplicationDetail"]["InputDescriptions"][0]["InputProcessingConfigurationDescription"] = {
        "InputLambdaProcessorDescription": {"ResourceARN": "arn:aws:lambda:x"}
    }
    with pytest.raises(ConfigError) as err:
        import_kda_description(data, TOPICS)
    assert err.value.field == "InputDescriptions[0].InputProcessingConfigurationDescription"


def _create_request() -> dict[str, Any]:
    detail = DESCRIPTION["ApplicationDetail"]
    inp = detail["InputDescriptions"][0]
    out, err = detail["OutputDescriptions"]
    return {
        "ApplicationName": "sample-app",
        "Inputs": [
            {
                "NamePrefix": inp["NamePrefix"],
                "KinesisStreamsInput": inp["KinesisStreamsInputDescription"],
                "InputParallelism": {"Count": 1},
                "InputSchema": inp["InputSchema"],
            }
        ],
        "Outputs": [
            {
                "Name": out["Name"],
                "KinesisFirehoseOutput": out["KinesisFirehoseOutputDescription"],
                "DestinationSchema": out["DestinationSchema"],
            },
            {
                "Name": err["Name"],
                "LambdaOutput": {
                    "ResourceARN": "arn:aws:lambda:us-east-1:123:function:on-errors:3",
                    "RoleARN": "arn:aws:iam::123:role/r",
                },
                "DestinationSchema": {"RecordFormatType": "JSON"},
            },
        ],
        "ApplicationCode": detail["ApplicationCode"],
    }


def test_create_application_input_is_read_like_a_description() -> None:
    request = _create_request()
    assert is_create_application_request(request)
    assert not is_create_application_request(DESCRIPTION)
    yaml_data = to_mapping(import_kda_description(DESCRIPTION, TOPICS))
    assert not is_create_application_request(yaml_data)
    topics = {
        "arn:aws:kinesis:us-east-1:123:stream/kinesis-analytics-demo": "ticker",  # by ARN
        "to-s3": "ticker-out",
        "on-errors": "ticker-err",  # a Lambda function by name
    }
    config = import_kda_description(request, topics)
    described = import_kda_description(DESCRIPTION, TOPICS)
    assert config.outputs == described.outputs
    assert config.error_output == described.error_output
    assert [(i.topic, i.columns) for i in config.inputs] == [
        (i.topic, i.columns) for i in described.inputs
    ]
    assert config.read_code() == described.read_code()
    assert kda_resources(request)[-1] == (
        "arn:aws:lambda:us-east-1:123:function:on-errors:3",
        "on-errors",
    )
    with pytest.raises(ConfigError) as err:
        import_kda_description(request, {"to-s3": "x", "on-errors": "y"})
    assert err.value.field == "Inputs[0].KinesisStreamsInput.ResourceARN"
    named = import_kda_description(request, {}, topics_default_to_names=True)
    assert [i.topic for i in named.inputs] == ["kinesis-analytics-demo"]
    assert named.error_output.topic == "on-errors"


def test_a_create_application_file_loads_as_an_application(tmp_path: Path) -> None:
    file = tmp_path / "create.json"
    file.write_text(json.dumps(_create_request()))
    config = load_application_file(file, error_topic="errs", application_name="renamed")
    assert config.application_name == "renamed"
    assert config.error_output.topic == "errs"
    assert config.inputs[0].topic == "kinesis-analytics-demo"
    assert config.read_code().startswith("CREATE OR REPLACE STREAM")
    with pytest.raises(ConfigError):
        load_application_file(tmp_path / "nowhere.yaml")
