"""S3BackupMode AllDocuments and document_id none in Shardline's layout, and build_core's
wiring of the source backup."""

import logging

import pytest

from connectors import DeliveryConfig, build_core
from connectors.elasticsearch import ElasticsearchConfig, S3BackupMode
from connectors.elasticsearch import DocumentIdStrategy
from connectors.s3 import S3Destination
from ground.errors import ConfigError
from ground.settings import Settings


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
