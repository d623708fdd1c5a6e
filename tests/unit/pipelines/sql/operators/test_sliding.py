"""Sliding (OVER) windows with RANGE, MIN/MAX/AVG/COUNT and LAG, against DuckDB."""

from __future__ import annotations

import math

from tests.unit.pipelines.sql.corpus import SLIDING, input_table, run, ticker_records

RECORDS = ticker_records(6000)


def test_sliding_range_window_equals_duckdb() -> None:
    streams, failures = run(SLIDING, RECORDS, batch_size=333)
    assert failures == []
    con = input_table(RECORDS)
    expected = con.execute(
        """SELECT ticker, price,
             min(price) OVER w, max(price) OVER w, avg(price) OVER w, count(*) OVER w,
             -- LAG looks back within the window: NULL once the previous row left the range
             CASE WHEN lag(rowtime, 1) OVER p >= rowtime - 10000 THEN lag(price, 1) OVER p END
           FROM s
           WINDOW w AS (PARTITION BY ticker ORDER BY rowtime
                        RANGE BETWEEN 10000 PRECEDING AND CURRENT ROW),
                  p AS (PARTITION BY ticker ORDER BY seq)
           ORDER BY seq"""
    ).fetchall()
    got = streams["DESTINATION_SQL_STREAM"]
    assert len(got) == len(expected) == len(RECORDS)
    # DuckDB's RANGE frame includes peers with the same ROWTIME that arrive later; a stream
    # cannot see the future, so compare only rows whose ROWTIME is unique within the ticker.
    con.execute("CREATE TABLE dup AS SELECT ticker, rowtime, count(*) c FROM s GROUP BY ALL")
    unique = [
        r[0]
        for r in con.execute(
            "SELECT s.seq FROM s JOIN dup USING (ticker, rowtime) WHERE c = 1 ORDER BY seq"
        ).fetchall()
    ]
    assert len(unique) > len(RECORDS) * 0.8
    for seq in unique:
        g, e = got[seq], expected[seq]
        assert g[1:3] == e[0:2]
        assert math.isclose(g[3], e[2]) and math.isclose(g[4], e[3])
        assert math.isclose(g[5], e[4], rel_tol=1e-9) and g[6] == e[5]
        assert (g[7] is None and e[6] is None) or math.isclose(g[7], e[6])
