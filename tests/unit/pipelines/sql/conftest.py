"""DuckDB as the independent oracle: evaluate one SQL expression over many rows at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pytest

Oracle = Callable[[str, dict[str, tuple[str, Sequence[Any]]]], list[Any]]


@pytest.fixture(scope="session")
def duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


@pytest.fixture(scope="session")
def oracle(duck: duckdb.DuckDBPyConnection) -> Oracle:
    """``oracle("a // b", {"a": ("BIGINT", [...]), "b": ("BIGINT", [...])})`` → one result per
    row, in order. Columns are zipped; NULLs are Python ``None``."""

    def run(expr: str, columns: dict[str, tuple[str, Sequence[Any]]]) -> list[Any]:
        lengths = {len(values) for _, values in columns.values()}
        assert len(lengths) == 1, "columns must have the same length"
        (n,) = lengths
        cols = ", ".join(f"unnest(?::{t}[]) AS {name}" for name, (t, _) in columns.items())
        sql = f"SELECT {expr} FROM (SELECT unnest(range({n})) AS i_, {cols}) ORDER BY i_"
        rows = duck.execute(sql, [list(v) for _, v in columns.values()]).fetchall()
        return [r[0] for r in rows]

    return run
