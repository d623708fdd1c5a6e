"""Stagger windows, opened per key by its first row, against DuckDB."""

from __future__ import annotations

from collections import Counter

from tests.unit.pipelines.sql.corpus import STAGGER, input_table, run, ticker_records

RECORDS = ticker_records(6000)


def test_stagger_window_equals_duckdb() -> None:
    streams, failures = run(STAGGER, RECORDS, batch_size=101)
    assert failures == []
    con = input_table(RECORDS)
    # Windows per (minute, ticker): opened by the first row at t0, covering [t0, t0 + 60 s);
    # a row at or after t0 + 60 s opens the next window of that key. Computed recursively.
    rows = con.execute(
        "SELECT ticker, event_ms - event_ms % 60000, rowtime FROM s ORDER BY seq"
    ).fetchall()
    open_at: dict[tuple[str, int], int] = {}
    counts: Counter[tuple[str, int, int]] = Counter()
    for ticker, minute, rowtime in rows:
        key = (ticker, minute)
        if key not in open_at or rowtime >= open_at[key] + 60_000:
            open_at[key] = rowtime
        counts[(ticker, minute, open_at[key])] += 1
    expected = Counter((t, m, n) for (t, m, _), n in counts.items())
    got = Counter((r[1], int(r[2]), r[3]) for r in streams["DESTINATION_SQL_STREAM"])
    assert got == expected
    assert len(got) > 100
