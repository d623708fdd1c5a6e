"""MinIO (the S3 stand-in), built from source with ``go install`` into the cache once.

It runs with a static KMS key (``MINIO_KMS_SECRET_KEY``, named :data:`KMS_KEY_NAME`, derived
from the root secret so it stays the same across restarts), so objects can be written with
SSE-S3 or SSE-KMS (``kms_key_arn: shardline-key``) as against AWS S3. Its STS answers
``AssumeRole`` on the S3 port (temporary credentials, ``SHARDLINE_S3_ROLE_ARN``).

With an ``https://`` endpoint (the secured stack's default, ``stack up --secure``) it serves
TLS on that port, S3 and STS alike: a certificate for the loopback host signed by a CA made
here (the same helper as the secured Elasticsearch's), kept in ``<home>/minio/tls/``
(``ca.crt`` is what clients trust: ``SHARDLINE_S3_CA_BUNDLE`` defaults to it) and copied to
MinIO's ``--certs-dir`` as ``public.crt`` / ``private.key``.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from ground.settings import s3_stack_ca
from shardline.stack.certificates import write_private
from shardline.stack.component import Component, Health, http_status
from shardline.stack.preflight import PortClaim, require_tool
from shardline.stack.process import Launch, run_checked
from shardline.stack.progress import Reporter
from shardline.stack.search_security import ensure_certificates
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

    @property
    def tls(self) -> bool:
        """Whether MinIO serves TLS: its endpoint is ``https://``."""
        return urlsplit(self.settings.s3_endpoint).scheme == "https"

    @property
    def ca(self) -> Path:
        """The CA certificate the TLS certificate is signed by (clients trust it)."""
        return s3_stack_ca(self.home)

    @property
    def certs_dir(self) -> Path:
        return self.dir / "certs"

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
        if self.tls:
            with reporter.step(self.name, "TLS certificate signed by the local CA"):
                self._install_certificate()

    def _install_certificate(self) -> None:
        """The CA and the server certificate (made or kept), copied where MinIO reads them."""
        tls = self.ca.parent
        ensure_certificates(tls, [self.host])
        self.certs_dir.mkdir(parents=True, exist_ok=True)
        (self.certs_dir / "public.crt").write_bytes((tls / "node.crt").read_bytes())
        write_private(self.certs_dir / "private.key", (tls / "node.key").read_bytes())

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
                *(("--certs-dir", str(self.certs_dir)) if self.tls else ()),
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
        ca = self.ca if self.tls and self.ca.is_file() else None
        code = http_status(f"{self.settings.s3_endpoint}/minio/health/live", timeout_s, ca=ca)
        if code is None:
            return Health(False, "no answer")
        return Health(code == 200, f"live: HTTP {code}" + (" (TLS)" if self.tls else ""))
