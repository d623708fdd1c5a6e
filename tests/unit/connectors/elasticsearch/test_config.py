"""An Elasticsearch delivery's ``elasticsearch:`` section: index and rotation, document ids,
S3BackupMode (AllDocuments, and build_core's wiring of the source backup), errors naming the
field."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from connectors import DeliveryConfig, build_core
from connectors.elasticsearch import (
    DocumentIdStrategy,
    ElasticsearchConfig,
    ElasticsearchDestination,
    S3BackupMode,
)
from connectors.s3 import S3Destination
from ground.errors import ConfigError
from ground.settings import Settings

# -- S3BackupMode and document_id none --------------------------------------------------------

def es(**section) -> DeliveryConfig:
    return DeliveryConfig.from_mapping(
        {"name": "d", "topic": "t", "elasticsearch": {"index": "i", **section}})


def test_all_documents_is_accepted() -> None:
    cfg = es(s3_backup={"bucket": "backup", "mode": "AllDocuments", "prefix": "all/"})
    assert isinstance(cfg.destination, ElasticsearchConfig)
    assert cfg.destination.s3_backup is not None
    assert cfg.destination.s3_backup.mode is S3BackupMode.ALL_DOCUMENTS


def test_failed_documents_only_stays_the_default() -> None:
    cfg = es(s3_backup={"bucket": "backup"})
    assert isinstance(cfg.destination, ElasticsearchConfig)
    assert cfg.destination.s3_backup is not None
    assert cfg.destination.s3_backup.mode is S3BackupMode.FAILED_DOCUMENTS_ONLY


def test_an_unknown_mode_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"^elasticsearch\.s3_backup\.mode: one of "
                       r"FailedDocumentsOnly, AllDocuments, got 'Everything'"):
        es(s3_backup={"bucket": "backup", "mode": "Everything"})


def test_document_id_none() -> None:
    cfg = es(document_id="none")
    assert isinstance(cfg.destination, ElasticsearchConfig)
    assert cfg.destination.document_id is DocumentIdStrategy.NONE


def test_build_core_wires_the_source_backup_only_for_all_documents() -> None:
    settings = Settings.from_env({})
    all_docs = build_core(es(s3_backup={"bucket": "backup", "mode": "AllDocuments",
                                        "prefix": "all/"}), settings)
    assert isinstance(all_docs.source_backup, S3Destination)
    assert all_docs.source_backup.bucket == "backup"
    assert isinstance(all_docs.backup, S3Destination)
    failed_only = build_core(es(s3_backup={"bucket": "backup"}), settings)
    assert failed_only.source_backup is None and failed_only.backup is not None


def test_document_id_none_warns_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="connectors.elasticsearch.config"):
        build_core(es(document_id="none"), Settings.from_env({}))
    assert "not exactly-once" in caplog.text


# -- index, rotation and retries --------------------------------------------------------------

def es_mapping(**over) -> dict:
    return {"name": "x", "topic": "t", "elasticsearch": {"index": "ticks", **over}}


def test_index_rotation_period_default_and_both_spellings() -> None:
    from connectors.elasticsearch import IndexRotationPeriod

    default = DeliveryConfig.from_mapping(es_mapping()).destination
    assert isinstance(default, ElasticsearchConfig)
    assert default.index_rotation_period is IndexRotationPeriod.NO_ROTATION
    ours = DeliveryConfig.from_mapping(es_mapping(index_rotation_period="OneHour")).destination
    firehose = DeliveryConfig.from_mapping(es_mapping(IndexRotationPeriod="OneHour")).destination
    assert ours == firehose
    assert isinstance(ours, ElasticsearchConfig)
    assert ours.index_rotation_period is IndexRotationPeriod.ONE_HOUR
    named = DeliveryConfig.from_mapping(
        {"name": "x", "topic": "t", "elasticsearch": {"IndexName": "ticks"}}).destination
    assert named == default


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (es_mapping(index_rotation_period="Hourly"), "elasticsearch.index_rotation_period",
         "NoRotation, OneHour, OneDay, OneWeek, OneMonth, got 'Hourly'"),
        (es_mapping(IndexRotationPeriod="oneday"), "elasticsearch.IndexRotationPeriod",
         "got 'oneday'"),
        (es_mapping(IndexRotationPeriod=7), "elasticsearch.IndexRotationPeriod",
         "expected a string"),
        (es_mapping(index_rotation_period="OneDay", IndexRotationPeriod="OneDay"),
         "elasticsearch.IndexRotationPeriod", "only one"),
        (es_mapping(index="a" * 81), "elasticsearch.index", "1 to 80 characters, got 81"),
        (es_mapping(index=""), "elasticsearch.index", "1 to 80 characters, got 0"),
        ({"name": "x", "topic": "t", "elasticsearch": {"IndexName": "a" * 81}},
         "elasticsearch.IndexName", "1 to 80"),
        ({"name": "x", "topic": "t", "elasticsearch": {"IndexName": "Ticks"}},
         "elasticsearch.IndexName", "index name"),
        (es_mapping(retry={"DurationInSeconds": 7201}), "elasticsearch.retry.DurationInSeconds",
         "between 0 and 7200, got 7201"),
        (es_mapping(retry={"duration_seconds": -1}), "elasticsearch.retry.duration_seconds",
         "between 0 and 7200"),
    ],
)
def test_elasticsearch_errors_name_the_field(data: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        DeliveryConfig.from_mapping(data)
    assert info.value.field == field


def test_elasticsearch_retry_duration_bounds_are_accepted() -> None:
    for seconds in (0, 7200):
        config = DeliveryConfig.from_mapping(es_mapping(retry={"DurationInSeconds": seconds}))
        assert config.destination.retry.duration_ms == seconds * 1000
    assert DeliveryConfig.from_mapping(es_mapping()).destination.retry.duration_ms == 300_000
    assert DeliveryConfig.from_mapping(es_mapping(index="a" * 80)).destination.index == "a" * 80  # type: ignore[union-attr]


# -- document_id: field -----------------------------------------------------------------------

def test_document_id_field_config_and_build() -> None:
    cfg = es(document_id="field", document_id_field="order_id")
    assert isinstance(cfg.destination, ElasticsearchConfig)
    assert cfg.destination.document_id is DocumentIdStrategy.FIELD
    assert cfg.destination.document_id_field == "order_id"
    core = build_core(cfg, Settings.from_env({}))
    assert isinstance(core.destination, ElasticsearchDestination)
    assert core.destination.document_id_field == "order_id"


@pytest.mark.parametrize(("section", "message"), [
    ({"document_id": "field"}, r"^elasticsearch\.document_id_field: is required"),
    ({"document_id": "field", "document_id_field": ""},
     r"^elasticsearch\.document_id_field: must not be empty"),
    ({"document_id": "field", "document_id_field": 3},
     r"^elasticsearch\.document_id_field: expected a string"),
    ({"document_id_field": "order_id"},
     r"^elasticsearch\.document_id_field: only with document_id: field, not 'offset'"),
    ({"document_id": "record_key", "document_id_field": "order_id"},
     r"^elasticsearch\.document_id_field: only with document_id: field, not 'record_key'"),
])
def test_document_id_field_errors_name_the_field(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        es(**section)
