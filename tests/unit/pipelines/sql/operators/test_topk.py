"""TOP_K_ITEMS_TUMBLING and COUNT_DISTINCT_ITEMS_TUMBLING, against DuckDB."""

from __future__ import annotations

from typing import Any

from tests.unit.pipelines.sql.corpus import TOP_K, input_table, run, ticker_records

RECORDS = ticker_records(6000)


def test_top_k_and_count_distinct_equal_duckdb() -> None:
    streams, failures = run(TOP_K, RECORDS)
    assert failures == []
    con = input_table(RECORDS)
    counts = con.execute(
        "SELECT rowtime - rowtime % 60000 + 60000 AS w, ticker, count(*) AS c FROM s "
        "GROUP BY ALL ORDER BY w, c DESC, ticker"
    ).fetchall()
    expected_top: list[tuple[Any, ...]] = []
    per_window: dict[int, list[tuple[str, int]]] = {}
    for w, ticker, c in counts:
        per_window.setdefault(w, []).append((ticker, c))
    for w in sorted(per_window):
        expected_top.extend((w, t, c) for t, c in per_window[w][:3])
    got_top = [(int(r[0]), r[1], r[2]) for r in streams["DESTINATION_SQL_STREAM"]]
    assert got_top == expected_top
    distinct = con.execute(
        "SELECT rowtime - rowtime % 60000 + 60000 AS w, count(DISTINCT ticker) FROM s "
        "GROUP BY ALL ORDER BY w"
    ).fetchall()
    # windows where no row passed the WHERE still close with a count of 0
    with_price = dict(
        con.execute(
            "SELECT rowtime - rowtime % 60000 + 60000, count(DISTINCT ticker) FILTER (price > 100) "
            "FROM s GROUP BY ALL"
        ).fetchall()
    )
    got_distinct = {int(r[0]): r[1] for r in streams["DISTINCT_STREAM"]}
    assert got_distinct == {w: n for w, n in with_price.items() if n} | {
        w: 0 for w, n in with_price.items() if not n and w in got_distinct
    }
    assert len(distinct) > 3
