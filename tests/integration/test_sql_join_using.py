"""``JOIN … USING`` between two streams on the real stack: a topic of four partitions keyed
by ticker, joined on the sector (so behind a repartition), checked row for row against
DuckDB's own ``USING`` over the input as it sits in Kafka.

The oracle's rules (not the engine's code): ROWTIME is the running maximum of a partition's
Kafka timestamps in offset order; a rising trade meets the falling trades of its sector
whose ROWTIME is at most a second before its own.
"""

from __future__ import annotations

import pytest

from tests.integration.sql_apps_support import (
    Dataset,
    deploy,
    finish,
    input_table,
    output,
    produce,
    start_ms,
    ticker_records,
)
from tests.rows import assert_same_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

PARTITIONS = 4
RECORDS = 3_000


def test_a_stream_join_using_equals_duckdb(
    stack_settings, topic_factory, tmp_path, workers
) -> None:
    topic = topic_factory(PARTITIONS, prefix="it-ticker-using")
    produce(stack_settings.kafka, topic,
            ticker_records(RECORDS, seed=33, start_ms=start_ms()), PARTITIONS)  # fmt: skip
    app = deploy("join_using", tmp_path, topic_factory, Dataset(topic, PARTITIONS, RECORDS))
    con = input_table(stack_settings.kafka, topic)
    # DuckDB's own USING (its * leaves the join column where the left side has it)
    want = con.execute(
        """SELECT * FROM (SELECT rowtime AS urt, ticker, sector, price FROM s
                          WHERE change > 1) u
           JOIN (SELECT rowtime AS drt, price, sector, ticker FROM s WHERE change < -1) d
           USING (sector)
           WHERE d.drt BETWEEN u.urt - 1000 AND u.urt"""
    ).fetchall()
    layout = [c[0] for c in con.description or []]
    assert layout == ["urt", "ticker", "sector", "price", "drt", "price", "ticker"]
    expected = [(sector, ut, up, dp, dt, True) for _, ut, sector, up, _, dp, dt in want]
    w = app.worker("w1", tmp_path / "w1.log", workers)
    finish(stack_settings, app, {app.outputs["SECTOR_SWINGS"]: len(expected)}, [w])
    got = [
        (v["SECTOR"], v["UP_TICKER"], v["UP_PRICE"], v["DOWN_PRICE"], v["DOWN_TICKER"],
         v["SAME_SECTOR"])
        for _, v in output(stack_settings, app.outputs["SECTOR_SWINGS"])
    ]  # fmt: skip
    assert_same_rows(got, expected, what="JOIN … USING (sector)")
    assert len(expected) > 100
    assert output(stack_settings, app.errors) == []
