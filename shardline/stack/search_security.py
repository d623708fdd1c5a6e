"""Elasticsearch with security on, for the local stack (``SHARDLINE_STACK_SECURE``).

What :class:`~shardline.stack.search.SearchComponent` adds to a secured node:

- **TLS** on HTTP and transport, with certificates made here (Python ``cryptography``): a
  local CA kept under ``<home>/search/tls/`` (``ca.crt`` is what clients trust:
  ``SHARDLINE_SEARCH_CA_BUNDLE`` defaults to it) and a node certificate for the loopback
  host, re-made when it would expire within a month or misses the host.
- **A superuser** in the file realm, added with the zip's ``elasticsearch-users`` (the
  password goes on its standard input, never on a command line): the basic-auth user of the
  settings, else :data:`~ground.settings.SECURE_SEARCH_USERNAME`.
- **The analysis components the security index needs.** The integ-test zip has no
  ``analysis-common`` module, and the ``.security`` index (where API keys live) is created
  with an ``email`` analyzer: ``uax_url_email`` tokenizer, ``pattern_capture``, ``lowercase``
  and ``unique`` filters. A small stable plugin (``es_analysis/*.java``, on Lucene's own
  classes) provides them; it is compiled with the JDK's ``javac`` against the zip's jars.

API keys are then created through the REST API (:func:`create_api_key`). Elasticsearch's
own token service (OAuth2 bearer tokens) needs a paid license and stays off.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from ground.errors import StackError, ToolMissingError
from ground.search_auth import SearchAuth
from ground.secret import Secret
from ground.settings import SECURE_SEARCH_PASSWORD, SECURE_SEARCH_USERNAME, Settings
from shardline.stack.certificates import (
    PrivateKey,
    certificate_pem,
    is_current,
    issue_certificate,
    load_ca,
    private_key_pem,
    self_signed_ca,
    subject_alt_names,
    write_private,
)

__all__ = [
    "PLUGIN_NAME",
    "add_superuser",
    "admin_credentials",
    "build_analysis_plugin",
    "create_api_key",
    "ensure_certificates",
    "install_certificates",
    "secure_config",
    "secure_get",
]

PLUGIN_NAME = "shardline-analysis"
PLUGIN_SOURCES = Path(__file__).with_name("es_analysis")
_PACKAGE = "org.shardline.analysis"
NAMED_COMPONENTS = {
    "org.elasticsearch.plugin.analysis.TokenFilterFactory": {
        "pattern_capture": f"{_PACKAGE}.PatternCaptureTokenFilterFactory",
        "lowercase": f"{_PACKAGE}.LowercaseTokenFilterFactory",
        "unique": f"{_PACKAGE}.UniqueTokenFilterFactory",
    },
    "org.elasticsearch.plugin.analysis.TokenizerFactory": {
        "uax_url_email": f"{_PACKAGE}.UaxUrlEmailTokenizerFactory",
    },
}
CA_DAYS = 3650
NODE_DAYS = 825
RENEW_BEFORE = datetime.timedelta(days=30)
CERTS = "certs"  # under the node's config folder (Elasticsearch reads files only there)


def secure_config() -> tuple[tuple[str, str], ...]:
    """The ``elasticsearch.yml`` settings of a secured node (file names under config/)."""
    crt, key, ca = f"{CERTS}/node.crt", f"{CERTS}/node.key", f"{CERTS}/ca.crt"
    return (
        ("xpack.security.enabled", "true"),
        ("xpack.security.http.ssl.enabled", "true"),
        ("xpack.security.http.ssl.certificate", crt),
        ("xpack.security.http.ssl.key", key),
        ("xpack.security.transport.ssl.enabled", "true"),
        ("xpack.security.transport.ssl.verification_mode", "certificate"),
        ("xpack.security.transport.ssl.certificate", crt),
        ("xpack.security.transport.ssl.key", key),
        ("xpack.security.transport.ssl.certificate_authorities", ca),
        ("xpack.security.authc.api_key.enabled", "true"),
    )


def admin_credentials(settings: Settings) -> tuple[str, Secret]:
    """The superuser the stack creates and checks health with: the settings' basic-auth
    user, else the stack's default one."""
    auth = settings.search_auth
    if auth.method == "basic" and auth.password is not None:
        return auth.username, auth.password
    return SECURE_SEARCH_USERNAME, Secret(SECURE_SEARCH_PASSWORD)


# -- certificates ----------------------------------------------------------------------------


def _node_is_current(node_crt: Path, ca: x509.Certificate, hosts: Sequence[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(node_crt.read_bytes())
    except (OSError, ValueError):
        return False
    return is_current(cert, ca, subject_alt_names(hosts), RENEW_BEFORE)


def ensure_certificates(tls_dir: Path, hosts: Sequence[str]) -> None:
    """A CA (``ca.crt``/``ca.key``, made once) and a node certificate for ``hosts``
    (``node.crt``/``node.key``) in ``tls_dir``; keys are readable by their owner only."""
    ca_crt, ca_key_path = tls_dir / "ca.crt", tls_dir / "ca.key"
    ca_key: PrivateKey
    if ca_crt.is_file() and ca_key_path.is_file():
        ca_key, ca = load_ca(ca_crt, ca_key_path)
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = self_signed_ca(ca_key, common_name="Shardline local CA", days=CA_DAYS,
                            digital_signature=True)  # fmt: skip
        write_private(ca_key_path, private_key_pem(ca_key))
        ca_crt.write_bytes(certificate_pem(ca))
        ca_crt.chmod(0o644)
        (tls_dir / "node.crt").unlink(missing_ok=True)  # signed by a CA that is gone
    if _node_is_current(tls_dir / "node.crt", ca, hosts):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_certificate(
        key, common_name="shardline-search", names=subject_alt_names(hosts),
        # transport TLS: each node is both sides
        usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        days=NODE_DAYS, ca_key=ca_key, ca=ca,
    )  # fmt: skip
    write_private(tls_dir / "node.key", private_key_pem(key))
    (tls_dir / "node.crt").write_bytes(certificate_pem(cert))


def install_certificates(tls_dir: Path, config_dir: Path) -> None:
    """Copy the CA certificate and the node's certificate and key into the node's config."""
    target = config_dir / CERTS
    target.mkdir(parents=True, exist_ok=True)
    for name in ("ca.crt", "node.crt"):
        (target / name).write_bytes((tls_dir / name).read_bytes())
    write_private(target / "node.key", (tls_dir / "node.key").read_bytes())


# -- the analysis plugin ------------------------------------------------------------------


def _sources_digest(version: str) -> str:
    digest = hashlib.sha256(version.encode())
    for source in sorted(PLUGIN_SOURCES.glob("*.java")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def build_analysis_plugin(dist: Path, java_home: Path, version: str, log_path: Path) -> None:
    """Compile the analysis plugin into ``<dist>/plugins/shardline-analysis`` unless the
    same sources are installed already."""
    folder = dist / "plugins" / PLUGIN_NAME
    stamp = folder / ".sources-sha256"
    digest = _sources_digest(version)
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return
    javac = java_home / "bin" / "javac"
    if not javac.is_file():
        raise ToolMissingError(
            f"the secured Elasticsearch needs a JDK's javac (not found in {java_home}) to build"
            " its analysis plugin: apt-get install openjdk-17-jdk-headless, or set JAVA_HOME")
    with tempfile.TemporaryDirectory(prefix="shardline-es-plugin-") as tmp:
        classes = Path(tmp) / "classes"
        argv = [str(javac), "-nowarn", "-d", str(classes),
                "-cp", str(dist / "lib" / "*"), *map(str, sorted(PLUGIN_SOURCES.glob("*.java")))]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as out:
            code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, check=False).returncode
        if code != 0:
            raise StackError(f"could not compile the Elasticsearch analysis plugin (exit"
                             f" {code}): see {log_path}")
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(folder / f"{PLUGIN_NAME}.jar", "w", zipfile.ZIP_DEFLATED) as jar:
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
    (folder / "stable-plugin-descriptor.properties").write_text(
        "description=Analysis components the security index needs, on Lucene's classes\n"
        f"version=1\nname={PLUGIN_NAME}\nelasticsearch.version={version}\n"
        "java.version=17\n")
    (folder / "named_components.json").write_text(json.dumps(NAMED_COMPONENTS, indent=1))
    stamp.write_text(digest + "\n")


# -- users ------------------------------------------------------------------------------------


def add_superuser(dist: Path, env: Mapping[str, str], username: str, password: Secret,
                  log_path: Path) -> None:
    """(Re)create ``username`` in the file realm with the ``superuser`` role."""
    config = dist / "config"
    for name in ("users", "users_roles"):  # drop the old entry: its password may differ
        path = config / name
        if path.is_file():
            lines = path.read_text().splitlines(keepends=True)
            kept = [ln for ln in lines if not _names_user(ln, name, username)]
            if kept != lines:
                path.write_text("".join(kept))
    value = password.reveal()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        proc = subprocess.run(
            [str(dist / "bin" / "elasticsearch-users"), "useradd", username, "-r", "superuser"],
            input=f"{value}\n{value}\n".encode(), stdout=out, stderr=subprocess.STDOUT,
            env=dict(env), cwd=dist, check=False)
    if proc.returncode != 0:
        raise StackError(f"could not add the Elasticsearch user {username!r} (exit"
                         f" {proc.returncode}): see {log_path}")


def _names_user(line: str, file: str, username: str) -> bool:
    if file == "users":
        return line.split(":", 1)[0] == username
    _role, _, users = line.partition(":")
    return username in (u.strip() for u in users.split(","))


# -- REST calls -------------------------------------------------------------------------------

def _context(ca: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca) if ca is not None else None)


def secure_get(url: str, *, ca: Path | None, username: str, password: Secret,
               timeout_s: float) -> tuple[int | None, object | None]:
    """GET ``url`` with basic auth over TLS trusting ``ca``: (status or None, JSON or None)."""
    headers = SearchAuth(method="basic", username=username, password=password)
    request = urllib.request.Request(
        url, headers=headers.authenticator().headers_sync("GET", url))
    https = urllib.request.HTTPSHandler(context=_context(ca))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), https)
    try:
        with opener.open(request, timeout=timeout_s) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return None, None


def create_api_key(settings: Settings, name: str, *, expiration: str = "") -> Secret:
    """A new API key of the stack's superuser (``encoded``, as ``SHARDLINE_SEARCH_API_KEY``
    takes it). ``expiration``: e.g. ``1d``; none by default."""
    username, password = admin_credentials(settings)
    auth = SearchAuth(method="basic", username=username, password=password)
    url = settings.search_url + "/_security/api_key"
    body: dict[str, object] = {"name": name}
    if expiration:
        body["expiration"] = expiration
    data = json.dumps(body).encode()
    headers = auth.authenticator().headers_sync(
        "POST", url, data, {"Content-Type": "application/json"})
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    https = urllib.request.HTTPSHandler(context=_context(settings.search_stack_ca))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), https)
    try:
        with opener.open(request, timeout=30) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise StackError(f"Elasticsearch refused to create API key {name!r}: HTTP"
                         f" {exc.code} {exc.read()[:300].decode('utf-8', 'replace')}") from None
    except (OSError, ValueError) as exc:
        raise StackError(f"could not create API key {name!r}: {exc}") from None
    return Secret(str(answer["encoded"]))
