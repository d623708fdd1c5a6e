"""Grouped runs of an aggregate, ours and DuckDB's, over ``(group, value)`` rows."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import duckdb

from pipelines.sql import aggregates as A

SEED = 7
GROUPS = 40


def run_groups(
    duck: duckdb.DuckDBPyConnection, sql_type: str, rows: Sequence[tuple[int, Any]], expr: str
) -> list[Any]:
    """``expr`` over each group ``g`` of ``(g, x)`` rows, in arrival order ``i``."""
    g = [r[0] for r in rows]
    x = [r[1] for r in rows]
    sql = (
        f"SELECT g, {expr} FROM (SELECT unnest(range({len(rows)})) AS i, unnest(?::INT[]) AS g, "
        f"unnest(?::{sql_type}[]) AS x) GROUP BY g ORDER BY g"
    )
    return [r[1] for r in duck.execute(sql, [g, x]).fetchall()]


def run_ours(name: str, rows: Sequence[tuple[int, Any]]) -> list[Any]:
    accs: dict[int, Any] = {}
    for g, x in rows:
        if g not in accs:
            accs[g] = A.AGGREGATES[name].create()
        accs[g].add(x)
    return [accs[g].result() for g in sorted(accs)]


def price_rows(r: random.Random, n: int = 3000, nulls: float = 0.1) -> list[tuple[int, Any]]:
    """Realistic ticker prices: cents, around a per-group level."""
    level = [r.uniform(5, 2000) for _ in range(GROUPS)]
    rows = []
    for _ in range(n):
        g = r.randrange(GROUPS)
        x = None if r.random() < nulls else round(level[g] * r.uniform(0.9, 1.1), 2)
        rows.append((g, x))
    return rows
