"""The Developer Guide's machine-learning examples for the RANDOM_CUT_FOREST and HOTSPOTS
tests: their SQL as published (the integration corpus's ``sql_apps``), data made like the
guide's generators (seeded), and drivers that commit to a simulated changelog and restore
from it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pipelines.sql import state_codec as codec
from pipelines.sql.catalog import StreamColumn
from pipelines.sql.engine import PartitionEngine
from pipelines.sql.operators.base import Context
from pipelines.sql.plan import ApplicationPlan, plan_application
from pipelines.sql.types import Timestamp, parse_type

__all__ = [
    "ANOMALY",
    "EXPLANATION",
    "HEART",
    "HOTSPOTS",
    "POINTS",
    "PRESSURE",
    "SOURCE",
    "blood_pressures",
    "drive",
    "drive_engine",
    "guide_plan",
    "heart_rates",
    "hot_points",
    "p99",
]

SOURCE = "SOURCE_SQL_STREAM_001"
START_MS = 1_780_000_000_000
GUIDE = Path(__file__).resolve().parents[4] / "integration" / "sql_apps"
ANOMALY = (GUIDE / "anomaly_detection" / "app.sql").read_text()
#: the guide's explanation application up to its STREAM_PUMP (the scores); its OUTPUT_PUMP,
#: which sorts them, is checked on the stack (test_sql_ml.py)
EXPLANATION = (
    (GUIDE / "anomaly_explanation" / "app.sql").read_text().split("--Creates an output stream")[0]
)
HOTSPOTS = (GUIDE / "hotspots" / "app.sql").read_text()

HEART = [
    StreamColumn("heartRate", parse_type("INTEGER")),
    StreamColumn("rateType", parse_type("VARCHAR(20)")),
]
PRESSURE = [
    StreamColumn("Systolic", parse_type("INTEGER")),
    StreamColumn("Diastolic", parse_type("INTEGER")),
    StreamColumn("BloodPressureLevel", parse_type("VARCHAR(20)")),
]
POINTS = [
    StreamColumn("x", parse_type("DOUBLE")),
    StreamColumn("y", parse_type("DOUBLE")),
    StreamColumn("is_hot", parse_type("VARCHAR(4)")),
]


def heart_rates(n: int, *, seed: int) -> list[tuple[int, tuple[Any, ...]]]:
    """The guide's generator: 60–100 NORMAL, with probability 0.01 150–200 HIGH."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if rng.random() < 0.01:
            values = (rng.randint(150, 200), "HIGH")
        else:
            values = (rng.randint(60, 100), "NORMAL")
        out.append((START_MS + 50 * i, values))
    return out


def blood_pressures(n: int, *, seed: int) -> list[tuple[int, tuple[Any, ...]]]:
    """The guide's generator: LOW and HIGH with probability 0.005 each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.005:
            values = (rng.randint(50, 80), rng.randint(30, 50), "LOW")
        elif r > 0.995:
            values = (rng.randint(130, 200), rng.randint(90, 150), "HIGH")
        else:
            values = (rng.randint(90, 120), rng.randint(60, 80), "NORMAL")
        out.append((START_MS + 50 * i, values))
    return out


def hot_points(n: int, *, seed: int) -> list[tuple[int, tuple[Any, ...]]]:
    """The guide's generator: 20 % of the points in a 1x1 square that moves every 1,000."""
    rng = random.Random(seed)
    out = []
    hx = hy = 0.0
    for i in range(n):
        if i % 1000 == 0:
            hx, hy = rng.random() * 9, rng.random() * 9
        if rng.random() < 0.2:
            values = (hx + rng.random(), hy + rng.random(), "Y")
        else:
            values = (rng.random() * 10, rng.random() * 10, "N")
        out.append((START_MS + 50 * i, values))
    return out


def guide_plan(
    code: str, columns: list[StreamColumn], application: str = "guide"
) -> ApplicationPlan:
    return plan_application(code, application=application, inputs={SOURCE: columns})


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * len(ordered))]


def drive_engine(plan: ApplicationPlan, records, *, batch: int, crashes: set[int]) -> list:
    """Records through an engine, committing to a changelog after each batch; after each
    batch index in ``crashes`` the engine is lost and a new one restored from the changelog."""
    engine = PartitionEngine(plan)
    changelog: dict[bytes, bytes] = {}
    out: list = []
    for index, start in enumerate(range(0, len(records), batch)):
        rows = []
        for ts, values in records[start : start + batch]:
            rows.append((engine.next_rowtime(ts), Timestamp(ts), *values))
        for name, new in sorted(engine.push(SOURCE, rows).items()):
            if name != SOURCE:
                out.extend((name, tuple(r)) for r in new)
        for key, value in engine.take_changes():
            if value is None:
                changelog.pop(key, None)
            else:
                changelog[key] = value
        if index in crashes:
            engine = PartitionEngine(plan)
            engine.restore(list(changelog.items()))
    return out


def drive(make, rows, *, batch: int, crash_after: set[int]) -> tuple[list, list, int]:
    """Batches through an operator, committing after each; at each batch index in
    ``crash_after`` the operator is lost and a new one restored from the changelog."""
    op = make()
    ctx = Context("app", 0, 0)
    changelog: dict[bytes, bytes] = {}
    out: list = []
    largest = 0
    for index, start in enumerate(range(0, len(rows), batch)):
        out.extend(op.process(rows[start : start + batch], ctx))
        for key, value in op.store.take(op.snapshot):
            if value is None:
                changelog.pop(key, None)
            else:
                changelog[key] = value
                largest = max(largest, len(value))
        op.end_epoch()
        if index in crash_after:
            op = make()
            for key, value in changelog.items():
                mine, decoded = op.store.decode_key(key)
                assert mine
                op.restore(decoded, codec.loads(value))
            op.finish_restore()
    failures = [(f.name, f.row[1]) for f in ctx.failures]
    return out, failures, largest
