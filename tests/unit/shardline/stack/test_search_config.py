from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml

from ground.errors import StackError
from ground.settings import Settings
from shardline.stack.preflight import Java
from shardline.stack.search import (
    ENGINES,
    SearchComponent,
    check_reachable,
    search_config,
    unpack_zip,
)


def config(engine: str, tmp_path: Path) -> dict[str, object]:
    text = search_config(
        ENGINES[engine],
        host="127.0.0.1",
        http_port=29200,
        transport_port=29300,
        data=tmp_path / "data dir",
        logs=tmp_path / "logs",
    )
    return yaml.safe_load(text)


def test_elasticsearch_config(tmp_path: Path) -> None:
    cfg = config("elasticsearch", tmp_path)
    assert cfg["discovery.type"] == "single-node"
    assert cfg["network.host"] == "127.0.0.1"
    assert cfg["http.port"] == 29200
    assert cfg["transport.port"] == 29300
    assert cfg["path.data"] == str(tmp_path / "data dir")
    assert cfg["xpack.security.enabled"] is False


def test_opensearch_config_has_no_xpack(tmp_path: Path) -> None:
    cfg = config("opensearch", tmp_path)
    assert cfg["http.port"] == 29200
    assert not any(str(k).startswith("xpack") for k in cfg)


@pytest.mark.parametrize(
    ("engine", "prefix", "script"),
    [("elasticsearch", "ES_", "elasticsearch"), ("opensearch", "OPENSEARCH_", "opensearch")],
)
def test_launch_uses_engine_env(
    settings: Settings, tmp_path: Path, engine: str, prefix: str, script: str
) -> None:
    from dataclasses import replace

    comp = SearchComponent(replace(settings, search_engine=engine), {})
    comp._java = Java(home=tmp_path / "jdk", major=17)
    launch = comp.launch()
    assert launch.argv == (str(comp.dist / "bin" / script),)
    assert launch.env[f"{prefix}JAVA_HOME"] == str(tmp_path / "jdk")
    assert launch.env[f"{prefix}JAVA_OPTS"] == "-Xms512m -Xmx512m"
    assert comp.dist == comp.runtime_dir / f"{engine}-{ENGINES[engine].version}"
    assert comp.dir == settings.home / "search"
    expected_user = settings.search_user if os.geteuid() == 0 else None
    assert launch.user == expected_user


def test_unpack_zip_keeps_executable_bits(tmp_path: Path) -> None:
    archive = tmp_path / "dist.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("dist-1/bin/run")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, "#!/bin/sh\n")
        plain = zipfile.ZipInfo("dist-1/config/app.yml")
        plain.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(plain, "a: 1\n")
    unpack_zip(archive, tmp_path / "out")
    assert stat.S_IMODE((tmp_path / "out/dist-1/bin/run").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out/dist-1/config/app.yml").stat().st_mode) == 0o644


def test_unreachable_home_is_reported() -> None:
    base = Path(tempfile.mkdtemp(prefix="shardline-reach-"))  # under /tmp: traversable parents
    try:
        base.chmod(0o755)
        locked = base / "locked"
        (locked / "home").mkdir(parents=True)
        locked.chmod(0o700)
        with pytest.raises(StackError, match=r"cannot enter .*locked .*SHARDLINE_HOME"):
            check_reachable(locked / "home" / "search", "nobody")
        locked.chmod(0o755)
        check_reachable(locked / "home" / "search", "nobody")  # now traversable: no error
    finally:
        shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback applies when running as root")
def test_home_closed_to_the_server_user_falls_back_to_var_tmp(settings: Settings) -> None:
    from dataclasses import replace

    from shardline.stack.search import FALLBACK_ROOT, blocking_parent

    base = Path(tempfile.mkdtemp(prefix="shardline-fallback-"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        (locked / "home").mkdir(parents=True)
        locked.chmod(0o700)
        comp = SearchComponent(replace(settings, home=locked / "home", search_user="nobody"), {})
        assert blocking_parent(comp.dir, "nobody") == locked
        assert comp.runtime_dir.parent == FALLBACK_ROOT
        assert comp.dist.parent == comp.runtime_dir
        other = SearchComponent(replace(settings, home=locked / "other", search_user="nobody"), {})
        assert other.runtime_dir != comp.runtime_dir  # one folder per home
        locked.chmod(0o755)
        assert comp.runtime_dir == comp.dir
        # a user that does not exist yet is judged by the "other" bits
        assert blocking_parent(comp.dir, "no-such-user-xyz") is None
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)


# -- the secured node ----------------------------------------------------------------------------

def test_the_secured_config_turns_security_and_tls_on(tmp_path: Path) -> None:
    text = search_config(ENGINES["elasticsearch"], host="127.0.0.1", http_port=29200,
                         transport_port=29300, data=tmp_path, logs=tmp_path, secure=True)
    cfg = yaml.safe_load(text)
    assert cfg["xpack.security.enabled"] is True
    assert cfg["xpack.security.http.ssl.enabled"] is True
    assert cfg["xpack.security.transport.ssl.enabled"] is True
    assert cfg["xpack.security.http.ssl.certificate"] == "certs/node.crt"
    assert text.count("xpack.security.enabled") == 1


def test_opensearch_has_no_secured_mode(tmp_path: Path) -> None:
    from dataclasses import replace

    settings = replace(Settings.from_env({"SHARDLINE_HOME": str(tmp_path)}),
                       search_engine="opensearch", stack_secure=True)
    with pytest.raises(StackError, match="no security plugin"):
        SearchComponent(settings, dict(os.environ)).preflight()


def test_the_named_components_are_the_plugins_classes() -> None:
    """named_components.json (written by the stack) names each Java class under the name its
    @NamedComponent annotation gives, as the interface it implements."""
    import re

    from shardline.stack.search_security import NAMED_COMPONENTS, PLUGIN_SOURCES

    found: dict[str, dict[str, str]] = {}
    for source in PLUGIN_SOURCES.glob("*.java"):
        text = source.read_text()
        name = re.search(r'@NamedComponent\("([a-z_]+)"\)', text)
        cls = re.search(r"public class (\w+) implements (\w+)", text)
        package = re.search(r"^package ([\w.]+);", text, re.M)
        assert name and cls and package, source.name
        interface = f"org.elasticsearch.plugin.analysis.{cls.group(2)}"
        found.setdefault(interface, {})[name.group(1)] = f"{package.group(1)}.{cls.group(1)}"
    assert found == NAMED_COMPONENTS
    # what the security index's "email" analyzer uses
    assert {"pattern_capture", "lowercase", "unique"} <= set(
        found["org.elasticsearch.plugin.analysis.TokenFilterFactory"])
    assert "uax_url_email" in found["org.elasticsearch.plugin.analysis.TokenizerFactory"]


def test_certificates_chain_to_the_ca_and_are_kept(tmp_path: Path) -> None:
    import ssl

    from cryptography import x509

    from shardline.stack.search_security import ensure_certificates

    ensure_certificates(tmp_path, ["127.0.0.1"])
    ca, node = (tmp_path / "ca.crt").read_bytes(), (tmp_path / "node.crt").read_bytes()
    assert stat.S_IMODE((tmp_path / "node.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(node)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    context.load_cert_chain(tmp_path / "node.crt", tmp_path / "node.key")  # a matching pair
    ensure_certificates(tmp_path, ["127.0.0.1"])
    assert (tmp_path / "node.crt").read_bytes() == node  # still good: kept
    ensure_certificates(tmp_path, ["127.0.0.2"])
    assert (tmp_path / "node.crt").read_bytes() != node  # another host: made again
    assert (tmp_path / "ca.crt").read_bytes() == ca  # by the same CA
