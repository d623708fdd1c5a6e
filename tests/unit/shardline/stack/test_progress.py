from __future__ import annotations

import io
import itertools

import pytest
from rich.console import Console

from shardline.stack.progress import ConsoleReporter


def reporter() -> tuple[ConsoleReporter, io.StringIO]:
    out = io.StringIO()
    ticks = itertools.count(0.0, 2.5)
    return ConsoleReporter(Console(file=out, width=200), clock=lambda: next(ticks)), out


def test_non_interactive_prints_start_and_end_with_duration() -> None:
    rep, out = reporter()
    with rep.step("kafka", "resolving jars"):
        pass
    lines = out.getvalue().splitlines()
    assert lines == ["→ kafka: resolving jars ...", "✓ kafka: resolving jars (2.5s)"]


def test_failure_is_reported_and_reraised() -> None:
    rep, out = reporter()
    with pytest.raises(ValueError), rep.step("minio", "building"):
        raise ValueError("no")
    assert out.getvalue().splitlines()[-1] == "✗ minio: building failed after 2.5s"


def test_note() -> None:
    rep, out = reporter()
    rep.note("search", "already running (pid 7)")
    assert out.getvalue() == "✓ search: already running (pid 7)\n"
