"""Elasticsearch 8 (default) or OpenSearch 2, from their integ-test zips on Maven Central.

These distributions bring no JDK (they use ours) and refuse to run as root, so when we are
root the server runs as ``settings.search_user`` from a copy unpacked under the home folder
(``/root`` is not traversable by that user).

With ``settings.stack_secure`` (``SHARDLINE_STACK_SECURE``, ``stack up --secure``)
Elasticsearch runs with security on: TLS on HTTP and transport, a superuser, API keys (see
:mod:`shardline.stack.search_security`). The OpenSearch zip has no security plugin.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ground.errors import StackError
from shardline.stack.component import Component, Health, http_json
from shardline.stack.maven import copy_artifact
from shardline.stack.preflight import Java, PortClaim, find_java, require_tool
from shardline.stack.process import Launch
from shardline.stack.progress import Reporter
from shardline.stack.search_security import (
    add_superuser,
    admin_credentials,
    build_analysis_plugin,
    ensure_certificates,
    install_certificates,
    secure_config,
    secure_get,
)
from shardline.stack.versions import (
    ELASTICSEARCH_VERSION,
    OPENSEARCH_VERSION,
    elasticsearch_artifact,
    opensearch_artifact,
)

__all__ = ["ENGINES", "Engine", "SearchComponent", "search_config", "unpack_zip"]

HEAP = "512m"
#: Where the server's files go when the unprivileged user cannot enter the home folder
#: (a checkout under /root, say): one folder per home, named by a hash of its path.
FALLBACK_ROOT = Path("/var/tmp/shardline")
CLUSTER_NAME = "shardline"


@dataclass(frozen=True, slots=True)
class Engine:
    name: str
    title: str
    version: str
    artifact: str
    env_prefix: str  # ES_ / OPENSEARCH_  (…JAVA_HOME, …JAVA_OPTS)
    extra_config: tuple[tuple[str, str], ...]

    @property
    def dist_name(self) -> str:
        return f"{self.name}-{self.version}"


ENGINES: dict[str, Engine] = {
    "elasticsearch": Engine(
        name="elasticsearch",
        title="Elasticsearch",
        version=ELASTICSEARCH_VERSION,
        artifact=elasticsearch_artifact(),
        env_prefix="ES_",
        extra_config=(("xpack.security.enabled", "false"),),
    ),
    "opensearch": Engine(
        name="opensearch",
        title="OpenSearch",
        version=OPENSEARCH_VERSION,
        artifact=opensearch_artifact(),
        env_prefix="OPENSEARCH_",
        extra_config=(),
    ),
}


def search_config(
    engine: Engine,
    *,
    host: str,
    http_port: int,
    transport_port: int,
    data: Path,
    logs: Path,
    secure: bool = False,
) -> str:
    """The ``<engine>.yml`` of a single loopback node (with security on when ``secure``)."""
    extra = engine.extra_config
    if secure:
        extra = (*(kv for kv in extra if not kv[0].startswith("xpack.security.")),
                 *secure_config())
    settings = [
        ("cluster.name", CLUSTER_NAME),
        ("node.name", f"{CLUSTER_NAME}-1"),
        ("discovery.type", "single-node"),
        ("network.host", host),
        ("http.port", str(http_port)),
        ("transport.port", str(transport_port)),
        ("path.data", str(data)),
        ("path.logs", str(logs)),
        # A nearly full dev disk must not flip indices to read-only mid-test.
        ("cluster.routing.allocation.disk.threshold_enabled", "false"),
        *extra,
    ]
    return "".join(f"{key}: {_yaml_scalar(value)}\n" for key, value in settings)


def _yaml_scalar(value: str) -> str:
    if value in ("true", "false") or value.isdigit():
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unpack_zip(archive: Path, target_parent: Path) -> None:
    """Extract ``archive`` under ``target_parent``, keeping the executable bits zip stores."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, target_parent))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


class SearchComponent(Component):
    name = "search"
    # ~20s on an idle 2-core machine; minutes when the machine is busy.
    health_timeout_s = 300.0

    _java: Java | None = None

    @property
    def engine(self) -> Engine:
        return ENGINES[self.settings.search_engine]

    @property
    def description(self) -> str:
        return f"{self.engine.title} {self.engine.version}"

    @property
    def endpoint(self) -> str:
        return self.settings.search_url

    @property
    def host(self) -> str:
        return urlsplit(self.settings.search_url).hostname or "127.0.0.1"

    @property
    def archive(self) -> Path:
        return self.cache / f"{self.engine.dist_name}.zip"

    @property
    def runtime_dir(self) -> Path:
        """Where the distribution, data and logs live: the component folder, or — when the
        server's user cannot enter it — a folder of its own under :data:`FALLBACK_ROOT`."""
        user = self.run_as
        if user is None or blocking_parent(self.dir, user) is None:
            return self.dir
        digest = hashlib.sha1(str(self.dir.resolve()).encode()).hexdigest()[:12]
        return FALLBACK_ROOT / digest

    @property
    def dist(self) -> Path:
        return self.runtime_dir / self.engine.dist_name

    @property
    def data(self) -> Path:
        return self.runtime_dir / f"{self.engine.name}-data"

    @property
    def logs(self) -> Path:
        return self.runtime_dir / f"{self.engine.name}-logs"

    @property
    def run_as(self) -> str | None:
        """The unprivileged user to run as when we are root; None to run as ourselves."""
        return self.settings.search_user if os.geteuid() == 0 else None

    def ports(self) -> list[PortClaim]:
        return [
            PortClaim(self.name, self.host, self.settings.search_port, "SHARDLINE_SEARCH_URL"),
            PortClaim(
                self.name,
                self.host,
                self.settings.search_transport_port,
                "SHARDLINE_SEARCH_TRANSPORT_PORT",
            ),
        ]

    @property
    def secure(self) -> bool:
        return self.settings.stack_secure

    def preflight(self) -> None:
        if self.secure and self.engine.name != "elasticsearch":
            raise StackError(
                f"the {self.engine.title} zip has no security plugin: the secured stack"
                " (SHARDLINE_STACK_SECURE) runs Elasticsearch (SHARDLINE_SEARCH_ENGINE)")
        self._java = find_java(self.env)
        if not self.archive.is_file() and not self.dist.is_dir():
            require_tool("mvn", self.env, f"download {self.engine.title} from Maven Central")

    def provision(self, reporter: Reporter) -> None:
        engine = self.engine
        runtime = self.runtime_dir
        if runtime != self.dir:
            reporter.note(self.name, f"{self.dir} is closed to {self.run_as!r}: using {runtime}")
            for folder in (FALLBACK_ROOT, runtime):
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o755)
        if not self.dist.is_dir():
            if not self.archive.is_file():
                with reporter.step(self.name, f"downloading {engine.title} {engine.version}"):
                    mvn = require_tool("mvn", self.env, f"download {engine.title}")
                    self.cache.mkdir(parents=True, exist_ok=True)
                    copy_artifact(mvn, engine.artifact, self.archive, self.env)
            with reporter.step(self.name, f"unpacking {self.archive.name}"):
                partial = runtime / f".{engine.dist_name}.partial"
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir(parents=True)
                unpack_zip(self.archive, partial)
                (partial / engine.dist_name).replace(self.dist)
                shutil.rmtree(partial, ignore_errors=True)
        self.data.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.dist / "config" / f"{engine.name}.yml").write_text(
            search_config(
                engine,
                host=self.host,
                http_port=self.settings.search_port,
                transport_port=self.settings.search_transport_port,
                data=self.data,
                logs=self.logs,
                secure=self.secure,
            )
        )
        if self.secure:
            self._secure(reporter)
        user = self.run_as
        if user is not None:
            ensure_user(user)
            check_reachable(runtime, user)
            for path in (self.dist, self.data, self.logs):
                chown_tree(path, user)

    def _secure(self, reporter: Reporter) -> None:
        """Certificates, the analysis plugin and the superuser of a secured node."""
        java = self._java or find_java(self.env)
        tls = self.settings.search_stack_ca.parent
        with reporter.step(self.name, "TLS certificates, analysis plugin, superuser"):
            ensure_certificates(tls, [self.host])
            install_certificates(tls, self.dist / "config")
            build_analysis_plugin(self.dist, java.home, self.engine.version,
                                  self.dir / "analysis-plugin.build.log")
            username, password = admin_credentials(self.settings)
            add_superuser(self.dist, {**self.env, "ES_JAVA_HOME": str(java.home)}, username,
                          password, self.dir / "users.log")

    def launch(self) -> Launch:
        java = self._java or find_java(self.env)
        prefix = self.engine.env_prefix
        env = {
            f"{prefix}JAVA_HOME": str(java.home),
            f"{prefix}JAVA_OPTS": f"-Xms{HEAP} -Xmx{HEAP}",
        }
        if self.run_as is not None:
            env["HOME"] = str(self.dist)  # the server user cannot read /root
        return Launch(
            argv=(str(self.dist / "bin" / self.engine.name),),
            env=env,
            cwd=self.dist,
            user=self.run_as,
        )

    def probe(self, timeout_s: float = 2.0) -> Health:
        url = f"{self.settings.search_url}/_cluster/health"
        if self.secure:
            username, password = admin_credentials(self.settings)
            code, body = secure_get(url, ca=self.settings.search_stack_ca, username=username,
                                    password=password, timeout_s=timeout_s)
            if code is not None and code != 200:
                return Health(False, f"HTTP {code} as {username!r}")
        else:
            body = http_json(url, timeout_s)
        if not isinstance(body, dict):
            return Health(False, "no answer")
        status = str(body.get("status", "?"))
        return Health(status in ("green", "yellow"), f"cluster {status}")


def ensure_user(user: str) -> None:
    """Create the system user the search engine runs as, if it does not exist yet."""
    try:
        pwd.getpwnam(user)
        return
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            user,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 and proc.returncode != 9:  # 9: created meanwhile
        raise StackError(
            f"could not create user {user!r} for the search engine: {proc.stderr.strip()} "
            "(create it yourself or set SHARDLINE_SEARCH_USER to an existing user)"
        )


def blocking_parent(path: Path, user: str) -> Path | None:
    """The first folder above ``path`` that ``user`` cannot traverse, or None. A user that
    does not exist yet (it is created on first start) is judged by the "other" bits."""
    try:
        entry = pwd.getpwnam(user)
        uid, groups = entry.pw_uid, {entry.pw_gid}
    except KeyError:
        uid, groups = -1, set()
    for parent in reversed(path.resolve().parents):
        try:
            st = parent.stat()
        except FileNotFoundError:
            return None  # not created yet: we create it, with our umask
        if st.st_uid == uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return parent
    return None


def check_reachable(path: Path, user: str) -> None:
    """StackError if ``user`` cannot traverse every folder above ``path`` (e.g. ``/root``)."""
    parent = blocking_parent(path, user)
    if parent is not None:
        mode = stat.filemode(parent.stat().st_mode)
        raise StackError(
            f"the search engine runs as user {user!r}, which cannot enter {parent} "
            f"(mode {mode}): set SHARDLINE_HOME to a folder outside it"
        )


def chown_tree(root: Path, user: str) -> None:
    """Give ``root`` and everything below it to ``user`` (and its primary group)."""
    entry = pwd.getpwnam(user)
    uid, gid = entry.pw_uid, entry.pw_gid
    for dirpath, dirnames, filenames in os.walk(root):
        os.chown(dirpath, uid, gid)
        for name in (*dirnames, *filenames):
            os.lchown(os.path.join(dirpath, name), uid, gid)
