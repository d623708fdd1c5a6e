from __future__ import annotations

import ipaddress
from dataclasses import replace

from cryptography import x509

from ground.settings import Settings, s3_stack_ca
from shardline.stack.minio import MinioComponent


def test_launch_binds_configured_ports_and_passes_credentials_by_env(settings: Settings) -> None:
    comp = MinioComponent(settings, {})
    launch = comp.launch()
    argv = list(launch.argv)
    assert argv[:3] == [str(comp.binary), "server", str(comp.data)]
    assert argv[argv.index("--address") + 1] == "127.0.0.1:39100"
    assert argv[argv.index("--console-address") + 1] == "127.0.0.1:39101"
    assert "--quiet" in argv  # the start-up banner would print the root credentials
    assert launch.env["MINIO_ROOT_USER"] == "shardline"
    assert launch.env["MINIO_ROOT_PASSWORD"] == "very-secret-value"
    assert "very-secret-value" not in " ".join(argv)
    assert "very-secret-value" not in repr(launch)


def test_binary_cached_per_version(settings: Settings) -> None:
    comp = MinioComponent(settings, {})
    assert comp.binary.parent.name.startswith("minio-v0.0.0-")
    assert comp.binary.is_relative_to(settings.cache.resolve())


def test_plain_endpoint_serves_plain_http(settings: Settings) -> None:
    comp = MinioComponent(settings, {})
    assert not comp.tls and "--certs-dir" not in comp.launch().argv


def test_https_endpoint_serves_tls_with_a_certificate_of_the_local_ca(settings: Settings) -> None:
    secure = replace(settings, s3_endpoint="https://127.0.0.1:39100", stack_secure=True)
    comp = MinioComponent(secure, {})
    assert comp.tls and comp.ca == s3_stack_ca(secure.home)
    comp._install_certificate()
    argv = list(comp.launch().argv)
    assert argv[argv.index("--certs-dir") + 1] == str(comp.certs_dir)
    assert argv[argv.index("--address") + 1] == "127.0.0.1:39100"
    public = x509.load_pem_x509_certificate((comp.certs_dir / "public.crt").read_bytes())
    ca = x509.load_pem_x509_certificate(comp.ca.read_bytes())
    assert public.issuer == ca.subject
    public.verify_directly_issued_by(ca)  # signed by the CA clients trust
    sans = public.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert (comp.certs_dir / "private.key").stat().st_mode & 0o077 == 0  # the owner's only
    # made once: a second start keeps the CA (clients' bundles stay valid)
    before = comp.ca.read_bytes()
    comp._install_certificate()
    assert comp.ca.read_bytes() == before
