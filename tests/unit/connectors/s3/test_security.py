"""S3 deliveries and security: server-side encryption from the ``encryption`` sections (and
Firehose's ``EncryptionConfiguration``) down to every object written; credentials S3 refuses
stop the delivery instead of sending records to the backup; the start-up check tells a
refused credential (naming its settings) from a bucket it may not use."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from botocore.credentials import Credentials

from connectors import DeliveryConfig, build_core
from connectors.core import Batch, DontRetry, Retry
from connectors.elasticsearch import ElasticsearchConfig
from connectors.firehose_layout import delivery_from_firehose
from connectors.s3 import Compression, S3Client, S3Config, S3Destination, S3Response
from connectors.s3.buckets import check_buckets
from ground.aws_credentials import AwsCredentials
from ground.errors import (
    ConfigError,
    CredentialsError,
    DeliveryError,
    DestinationUnavailableError,
    RetriableDeliveryError,
)
from ground.s3 import SSE_S3, ServerSideEncryption
from ground.secret import Secret
from ground.settings import Settings
from tests.unit.connectors.helpers import rec
from tests.unit.connectors.s3.fake_s3 import FakeS3

KMS = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::123456789012:role/firehose"


def s3(**over: Any) -> dict[str, Any]:
    return {"name": "ticks-s3", "topic": "ticks", "s3": {"bucket": "ticks", **over}}


# -- configuration ---------------------------------------------------------------------------

def test_encryption_modes() -> None:
    def sse(section: dict[str, Any]) -> ServerSideEncryption | None:
        dest = DeliveryConfig.from_mapping(s3(encryption=section)).destination
        assert isinstance(dest, S3Config)
        return dest.encryption

    assert DeliveryConfig.from_mapping(s3()).destination.encryption is None  # type: ignore
    assert sse({"mode": "none"}) is None
    assert sse({"mode": "SSE-S3"}) == SSE_S3
    assert sse({"mode": "SSE-KMS", "kms_key_arn": KMS}) == ServerSideEncryption("aws:kms", KMS)
    assert sse({"kms_key_arn": KMS}) == ServerSideEncryption("aws:kms", KMS)


@pytest.mark.parametrize(("section", "message"), [
    ({"mode": "SSE-C"}, "s3.encryption.mode: one of none, SSE-S3, SSE-KMS"),
    ({"mode": "SSE-KMS"}, "s3.encryption.kms_key_arn: is required with mode SSE-KMS"),
    ({"mode": "SSE-S3", "kms_key_arn": KMS}, "s3.encryption.kms_key_arn: goes with mode"),
    ({"mode": "SSE-S3", "key": KMS}, "s3.encryption.key: unknown setting"),
])
def test_encryption_errors_name_the_field(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        DeliveryConfig.from_mapping(s3(encryption=section))
    assert str(info.value).startswith(message)


def test_every_s3_destination_of_a_delivery_gets_its_encryption() -> None:
    config = DeliveryConfig.from_mapping(s3(
        error_output_prefix="errors/", encryption={"mode": "SSE-S3"},
        source_backup={"bucket": "raw", "encryption": {"kms_key_arn": KMS}}))
    core = build_core(config, Settings.from_env({}))
    assert cast(S3Destination, core.destination).sse == SSE_S3
    assert cast(S3Destination, core.backup).sse == SSE_S3  # same bucket, same rule
    assert cast(S3Destination, core.source_backup).sse == ServerSideEncryption("aws:kms", KMS)
    es = DeliveryConfig.from_mapping({"name": "e", "topic": "t", "elasticsearch": {
        "index": "i", "s3_backup": {"bucket": "failed", "mode": "AllDocuments",
                                    "encryption": {"mode": "SSE-KMS", "kms_key_arn": KMS}}}})
    core = build_core(es, Settings.from_env({}))
    assert cast(S3Destination, core.backup).sse == ServerSideEncryption("aws:kms", KMS)
    assert cast(S3Destination, core.source_backup).sse == ServerSideEncryption("aws:kms", KMS)


def test_the_clients_of_a_delivery_share_one_set_of_credentials() -> None:
    config = DeliveryConfig.from_mapping(s3(error_output_prefix="errors/",
                                            source_backup={"bucket": "raw"}))
    core = build_core(config, Settings.from_env({}))
    clients = [cast(S3Destination, d).client for d in (core.destination, core.backup,
                                                       core.source_backup)]
    assert len({id(c.credentials) for c in clients}) == 1


def firehose(dest: dict[str, Any]) -> DeliveryConfig:
    return delivery_from_firehose({
        "DeliveryStreamName": "ticks-s3", "Shardline": {"Topic": "ticks"},
        "ExtendedS3DestinationConfiguration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::out",
                                               **dest}})


def test_firehose_kms_encryption_is_sse_kms_with_its_key() -> None:
    kms = {"KMSEncryptionConfig": {"AWSKMSKeyARN": KMS}}
    config = firehose({
        "EncryptionConfiguration": kms, "S3BackupMode": "Enabled",
        "S3BackupConfiguration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::raw",
                                  "EncryptionConfiguration": {"NoEncryptionConfig":
                                                              "NoEncryption"}}})
    dest = config.destination
    assert isinstance(dest, S3Config) and dest.source_backup is not None
    assert dest.encryption == ServerSideEncryption("aws:kms", KMS)
    assert dest.source_backup.encryption is None  # NoEncryption: the bucket's default
    es = delivery_from_firehose({
        "DeliveryStreamName": "ticks-es", "Shardline": {"Topic": "ticks"},
        "AmazonopensearchserviceDestinationConfiguration": {
            "RoleARN": ROLE, "IndexName": "ticks", "S3Configuration": {
                "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::failed",
                "EncryptionConfiguration": kms}}}).destination
    assert isinstance(es, ElasticsearchConfig) and es.s3_backup is not None
    assert es.s3_backup.encryption == ServerSideEncryption("aws:kms", KMS)


@pytest.mark.parametrize(("encryption", "message"), [
    ({"NoEncryptionConfig": "NoEncryption", "KMSEncryptionConfig": {"AWSKMSKeyARN": KMS}},
     "EncryptionConfiguration.KMSEncryptionConfig: set NoEncryptionConfig or"),
    ({"KMSEncryptionConfig": {}}, "KMSEncryptionConfig.AWSKMSKeyARN: is required"),
    ({"NoEncryptionConfig": "Yes"}, "EncryptionConfiguration.NoEncryptionConfig: NoEncryption"),
])
def test_firehose_encryption_errors_name_the_firehose_field(encryption: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(ConfigError) as info:
        firehose({"EncryptionConfiguration": encryption})
    assert message in str(info.value)


# -- objects and credentials at run time --------------------------------------------------------

def write(fake: FakeS3, **kwargs: Any) -> Any:
    d = S3Destination(cast(S3Client, fake), "b", prefix="raw/", stream="st", **kwargs)
    batch = Batch.of(
        [rec(1, b'{"a":1}'), rec(2, b'{"a":2}')])

    async def go() -> Any:
        request = d.encode(batch)
        return d.classify(batch, request, await d.send(request))

    return asyncio.run(go())


def test_objects_and_multipart_uploads_carry_the_encryption() -> None:
    fake = FakeS3()
    kms = ServerSideEncryption("aws:kms", KMS)
    write(fake, sse=kms)
    (stored,) = fake.objects.values()
    assert stored.sse == kms
    big = FakeS3()
    d = S3Destination(cast(S3Client, big), "b", stream="st", sse=SSE_S3,
                      compression=Compression.UNCOMPRESSED,
                      multipart_threshold=5 * 1024 * 1024, part_size=5 * 1024 * 1024)
    batch = Batch.of(
        [rec(i, b'{"v":"%s"}' % (b"x" * 1000 + str(i).encode())) for i in range(6000)])

    async def go() -> Any:
        request = d.encode(batch)
        return d.classify(batch, request, await d.send(request))

    asyncio.run(go())
    assert ("CreateMultipartUpload", next(iter(big.objects))) in big.calls
    assert [o.sse for o in big.objects.values()] == [SSE_S3]


def refusal(code: str, status: int = 403) -> S3Response:
    return S3Response(status, f"<Error><Code>{code}</Code><Message>no</Message></Error>".encode())


@pytest.mark.parametrize("code", ["InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"])
def test_refused_credentials_stop_the_delivery(code: str) -> None:
    fake = FakeS3(fail={"PutObject": [refusal(code)]})
    with pytest.raises(CredentialsError) as info:
        write(fake)
    assert str(info.value).startswith(f"S3: http://fake-s3 refused the credentials ({code}")
    assert "(check static keys)" in str(info.value)


def test_an_expired_token_is_retried_when_it_refreshes_itself() -> None:
    fake = FakeS3(fail={"PutObject": [refusal("ExpiredToken", 400)]})
    with pytest.raises(CredentialsError, match="ExpiredToken"):  # static: it never will
        write(fake)

    class Refreshing(AwsCredentials):
        @property
        def refreshable(self) -> bool:
            return True

    fake = FakeS3(fail={"PutObject": [refusal("ExpiredToken", 400)]},
                  credentials=Refreshing(Credentials("a", "b"), settings="role"))
    assert isinstance(write(fake), Retry)


def test_the_replay_probe_tells_refused_credentials_from_a_passing_failure() -> None:
    """HEAD answers 403 without saying why: a listing tells a refused credential (stop now)
    from anything else (asked again, as before)."""
    batch = Batch.of([rec(1, b'{"a":1}')])
    d = S3Destination(cast(S3Client, FakeS3(fail={
        "HeadObject": [S3Response(403)], "ListObjectsV2": [refusal("SignatureDoesNotMatch")]})),
        "b", stream="st")
    with pytest.raises(CredentialsError, match="SignatureDoesNotMatch"):
        asyncio.run(d.written(batch))
    d = S3Destination(cast(S3Client, FakeS3(fail={
        "HeadObject": [S3Response(403)], "ListObjectsV2": [refusal("AccessDenied")]})),
        "b", stream="st")
    with pytest.raises(RetriableDeliveryError):
        asyncio.run(d.written(batch))


def test_access_denied_stays_the_records_failure() -> None:
    fake = FakeS3(fail={"PutObject": [refusal("AccessDenied")]})
    assert isinstance(write(fake), DontRetry)


# -- the start-up check ----------------------------------------------------------------------

class CheckS3:
    """Answers HEAD bucket with ``head`` and the listing that follows with ``listing``."""

    def __init__(self, head: int, listing: S3Response) -> None:
        self.head, self.listing = head, listing
        self.endpoint = "http://minio"
        self.credentials = AwsCredentials.static(Secret("a"), Secret("b"),
                                                 settings="SHARDLINE_S3_ACCESS_KEY / ...")

    async def __aenter__(self) -> CheckS3:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def head_bucket(self, bucket: str) -> S3Response:
        return S3Response(self.head)

    async def check_credentials(self, bucket: str) -> S3Response:
        return self.listing


def check(monkeypatch: pytest.MonkeyPatch, fake: CheckS3) -> None:
    monkeypatch.setattr("connectors.s3.buckets.s3_client", lambda *a, **k: fake)
    asyncio.run(check_buckets(Settings.from_env({}), [("ticks", False, "s3.bucket")]))


def test_the_check_names_the_credential_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialsError) as info:
        check(monkeypatch, CheckS3(403, refusal("SignatureDoesNotMatch")))
    assert str(info.value).startswith("S3: http://127.0.0.1:19000 refused the credentials"
                                      " (SignatureDoesNotMatch: no)")
    assert str(info.value).endswith("(check SHARDLINE_S3_ACCESS_KEY / ...)")


def test_the_check_tells_a_bucket_the_credentials_may_not_use(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DeliveryError) as info:
        check(monkeypatch, CheckS3(403, refusal("AccessDenied")))
    assert not isinstance(info.value, CredentialsError)
    assert "s3.bucket 'ticks'" in str(info.value) and "may not use it" in str(info.value)


@pytest.mark.parametrize(("answer", "transient"), [
    (S3Response(502), True),
    (refusal("SlowDown", 503), True),
    (S3Response(None, error="ClientConnectorError: Cannot connect to host minio:9000"), True),
    (S3Response(None, error="ClientConnectorCertificateError: certificate verify failed"),
     False),
    (refusal("NoSuchBucket", 404), False),
])  # fmt: skip
def test_the_check_calls_s3_down_or_answering_5xx_unavailable(
        monkeypatch: pytest.MonkeyPatch, answer: S3Response, transient: bool) -> None:
    fake = CheckS3(0, S3Response(200))
    fake.head_bucket = lambda bucket: _answer(answer)  # type: ignore[method-assign]
    with pytest.raises(DeliveryError) as info:
        check(monkeypatch, fake)
    assert isinstance(info.value, DestinationUnavailableError) is transient
    assert "s3.bucket 'ticks'" in str(info.value)
    if transient:
        assert (info.value.system, info.value.endpoint) == ("S3", "http://127.0.0.1:19000")


async def _answer(response: S3Response) -> S3Response:
    return response
