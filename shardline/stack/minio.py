"""MinIO (the S3 stand-in), built from source with ``go install`` into the cache once.

It runs with a static KMS key (``MINIO_KMS_SECRET_KEY``, named :data:`KMS_KEY_NAME`, derived
from the root secret so it stays the same across restarts), so objects can be written with
SSE-S3 or SSE-KMS (``kms_key_arn: shardline-key``) as against AWS S3. Its STS answers
``AssumeRole`` on the S3 port (temporary credentials, ``SHARDLINE_S3_ROLE_ARN``).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from shardline.stack.component import Component, Health, http_status
from shardline.stack.preflight import PortClaim, require_tool
from shardline.stack.process import Launch, run_checked
from shardline.stack.progress import Reporter
from shardline.stack.versions import MINIO_MODULE, MINIO_VERSION

__all__ = ["KMS_KEY_NAME", "MinioComponent", "kms_secret_key"]

KMS_KEY_NAME = "shardline-key"


def kms_secret_key(root_secret: str) -> str:
    """``MINIO_KMS_SECRET_KEY``: ``<name>:<base64 of 32 bytes>``, derived from the root
    secret (a local stack's key; never a production one)."""
    key = hashlib.sha256(b"shardline-minio-kms\0" + root_secret.encode()).digest()
    return f"{KMS_KEY_NAME}:{base64.b64encode(key).decode()}"


class MinioComponent(Component):
    name = "minio"
    health_timeout_s = 60.0

    @property
    def description(self) -> str:
        return f"MinIO {MINIO_VERSION.rsplit('-', 1)[-1][:7]}"

    @property
    def endpoint(self) -> str:
        return self.settings.s3_endpoint

    @property
    def host(self) -> str:
        return urlsplit(self.settings.s3_endpoint).hostname or "127.0.0.1"

    @property
    def binary(self) -> Path:
        return self.cache / f"minio-{MINIO_VERSION}" / "minio"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def ports(self) -> list[PortClaim]:
        return [
            PortClaim(self.name, self.host, self.settings.s3_port, "SHARDLINE_S3_ENDPOINT"),
            PortClaim(
                self.name, self.host, self.settings.s3_console_port, "SHARDLINE_S3_CONSOLE_PORT"
            ),
        ]

    def preflight(self) -> None:
        if not self.binary.is_file():
            require_tool("go", self.env, "build MinIO")

    def provision(self, reporter: Reporter) -> None:
        if not self.binary.is_file():
            go = require_tool("go", self.env, "build MinIO")
            gobin = self.binary.parent.with_name(f".{self.binary.parent.name}.partial")
            gobin.mkdir(parents=True, exist_ok=True)
            with reporter.step(self.name, f"building MinIO {MINIO_VERSION} with go install"):
                run_checked(
                    [str(go), "install", f"{MINIO_MODULE}@{MINIO_VERSION}"],
                    log_path=self.cache / f"minio-{MINIO_VERSION}.build.log",
                    env={**self.env, "GOBIN": str(gobin), "CGO_ENABLED": "0"},
                    cwd=self.cache,
                    what="build MinIO",
                )
            self.binary.parent.mkdir(parents=True, exist_ok=True)
            (gobin / "minio").replace(self.binary)
            gobin.rmdir()
        self.data.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        return Launch(
            argv=(
                str(self.binary),
                "server",
                str(self.data),
                "--address",
                f"{self.host}:{self.settings.s3_port}",
                "--console-address",
                f"{self.host}:{self.settings.s3_console_port}",
                "--quiet",
            ),
            env={
                "MINIO_ROOT_USER": self.settings.s3_access_key.reveal(),
                "MINIO_ROOT_PASSWORD": self.settings.s3_secret_key.reveal(),
                "MINIO_SITE_REGION": self.settings.s3_region,
                "MINIO_KMS_SECRET_KEY": kms_secret_key(self.settings.s3_secret_key.reveal()),
                "MINIO_UPDATE": "off",
            },
            cwd=self.dir,
        )

    def probe(self, timeout_s: float = 2.0) -> Health:
        code = http_status(f"{self.settings.s3_endpoint}/minio/health/live", timeout_s)
        if code is None:
            return Health(False, "no answer")
        return Health(code == 200, f"live: HTTP {code}")
