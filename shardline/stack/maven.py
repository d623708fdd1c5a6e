"""Resolving Java artifacts from Maven Central with Maven itself (so ``~/.m2`` is reused).

Results land in a temporary folder next to the target and are renamed into place only when
complete, so an interrupted run never leaves a half-filled cache entry behind.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from ground.errors import StackError
from shardline.stack.process import run_checked
from shardline.stack.versions import MAVEN_DEPENDENCY_PLUGIN

__all__ = ["copy_artifact", "copy_dependencies", "runtime_pom"]


def runtime_pom(coordinates: Iterable[tuple[str, str, str]], name: str) -> str:
    """A ``pom``-packaged project whose runtime dependencies are ``coordinates``."""
    deps = "\n".join(
        "    <dependency>"
        f"<groupId>{escape(g)}</groupId><artifactId>{escape(a)}</artifactId>"
        f"<version>{escape(v)}</version>"
        "</dependency>"
        for g, a, v in coordinates
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        f"  <groupId>dev.shardline.stack</groupId><artifactId>{escape(name)}</artifactId>"
        "<version>0</version><packaging>pom</packaging>\n"
        f"  <dependencies>\n{deps}\n  </dependencies>\n"
        "</project>\n"
    )


def copy_dependencies(
    mvn: Path,
    coordinates: Iterable[tuple[str, str, str]],
    target: Path,
    env: Mapping[str, str],
) -> None:
    """Copy the runtime dependency closure of ``coordinates`` into ``target`` (one jar each)."""
    work = target.parent / f".{target.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    (work / "libs").mkdir(parents=True)
    pom = work / "pom.xml"
    pom.write_text(runtime_pom(coordinates, target.name))
    run_checked(
        [
            str(mvn),
            "-B",
            "-q",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={work / 'libs'}",
        ],
        log_path=target.parent / f"{target.name}.maven.log",
        env=env,
        cwd=work,
        what=f"resolve {target.name} with Maven",
    )
    shutil.rmtree(target, ignore_errors=True)
    (work / "libs").replace(target)
    shutil.rmtree(work, ignore_errors=True)


def copy_artifact(mvn: Path, artifact: str, target: Path, env: Mapping[str, str]) -> None:
    """Download one artifact (``group:artifact:version:type``) to the file ``target``."""
    work = target.parent / f".{target.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    run_checked(
        [
            str(mvn),
            "-B",
            "-q",
            "-Dstyle.color=never",
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={work}",
        ],
        log_path=target.parent / f"{target.name}.maven.log",
        env=env,
        cwd=work,
        what=f"download {artifact} with Maven",
    )
    files = [p for p in work.iterdir() if p.is_file()]
    if len(files) != 1:
        raise StackError(f"Maven copied {len(files)} files for {artifact}, expected 1 in {work}")
    files[0].replace(target)
    shutil.rmtree(work, ignore_errors=True)
