"""Reaching S3 from the environment: the client a delivery's S3 destinations send with, and
the start-up check of the buckets they write to."""

from __future__ import annotations

from collections.abc import Sequence

from ground.errors import DeliveryError
from ground.s3 import S3Client
from ground.settings import Settings

__all__ = ["check_buckets", "s3_client"]


def s3_client(settings: Settings) -> S3Client:
    """A client of the S3 endpoint ``settings`` name, with their credentials."""
    return S3Client(
        settings.s3_endpoint, settings.s3_region, settings.s3_access_key, settings.s3_secret_key
    )


async def check_buckets(settings: Settings, buckets: Sequence[tuple[str, bool, str]]) -> None:
    """Each ``(bucket, ensure, field)``: created when ``ensure``, else it must exist; a
    DeliveryError naming ``field`` when it is not usable."""
    async with s3_client(settings) as s3:
        for bucket, ensure, field in buckets:
            resp = await (s3.ensure_bucket(bucket) if ensure else s3.head_bucket(bucket))
            if not resp.ok:
                why = resp.error or f"HTTP {resp.status} {resp.error_code}"
                raise DeliveryError(
                    f"{field} {bucket!r} at {settings.s3_endpoint} is not usable: {why}"
                    + ("" if ensure else " (set ensure_bucket: true to create it)"),
                    destination="s3",
                )
