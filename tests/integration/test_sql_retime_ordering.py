"""``expr AS ROWTIME`` with SELECT DISTINCT and a streaming ORDER BY on the real stack
(``sql_apps/retime_ordering``): the rows of a topic of four partitions keyed by ticker are
re-timed in one partition, in the stream's ROWTIME order (the partitions merged by ROWTIME,
ties by partition then offset); a row whose new ROWTIME goes back is an Out_Of_Order_Row
error; the others are made distinct and sorted. Every output is compared, in order, with an
oracle over the input as it sits in Kafka (DuckDB for ROWTIME and the merge order)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.sql_apps_support import (
    Dataset,
    deploy,
    error_rows,
    finish,
    input_table,
    output,
    produce,
    start_ms,
    ticker_records,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TEMPLATE = "retime_ordering"
PARTITIONS = 4
RECORDS = 3_000


def _kept(rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], int]:
    """The rows (``new ROWTIME`` first) not before a row kept before them; and how many
    went back in time."""
    kept, late, last = [], 0, None
    for row in rows:
        if last is not None and row[0] < last:
            late += 1
            continue
        last = row[0]
        kept.append(row)
    return kept, late


def oracle(con) -> tuple[dict[str, list[tuple[Any, ...]]], int]:
    merged = con.execute(
        "SELECT event_ms, rowtime, ticker, sector, price FROM s ORDER BY rowtime, part, off"
    ).fetchall()
    seconds, late_kinds = _kept([(e - e % 1000, sector) for e, _, _, sector, _ in merged])
    kinds = list(dict.fromkeys(seconds))  # DISTINCT: the first of each (second, sector)
    kinds.sort(key=lambda k: k[1], reverse=True)
    kinds.sort(key=lambda k: k[0])  # ORDER BY ROWTIME, sector DESC
    trades, late_trades = _kept([(e, r, t, p) for e, r, t, _, p in merged])
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for event_ms, rowtime, ticker, price in trades:
        groups.setdefault(rowtime - rowtime % 1000, []).append((event_ms, ticker, price))
    in_order = []
    for second in sorted(groups):  # each second of the input's ROWTIME, by price descending
        rows = groups[second]
        last = max(e for e, _, _ in rows)
        in_order.extend((last, t, p) for _, t, p in sorted(rows, key=lambda r: -r[2]))
    return {"KINDS": kinds, "SORTED": in_order}, late_kinds + late_trades


def test_as_rowtime_with_distinct_and_order_by(
    stack_settings, topic_factory, tmp_path, workers
) -> None:
    topic = topic_factory(PARTITIONS, prefix="it-ticker-retime")
    produce(stack_settings.kafka, topic,
            ticker_records(RECORDS, seed=41, start_ms=start_ms()), PARTITIONS)  # fmt: skip
    app = deploy(TEMPLATE, tmp_path, topic_factory, Dataset(topic, PARTITIONS, RECORDS))
    want, late = oracle(input_table(stack_settings.kafka, topic))
    assert late > 100 and len(want["KINDS"]) > 100
    counts = {app.outputs[name]: len(rows) for name, rows in want.items()}
    counts[app.errors] = late
    w = app.worker("w1", tmp_path / "w1.log", workers)
    finish(stack_settings, app, counts, [w], timeout_s=120)

    def rows(name: str, *columns: str) -> list[tuple[Any, ...]]:
        got = sorted(output(stack_settings, app.outputs[name]),
                     key=lambda rv: (rv[0].partition, rv[0].offset))  # fmt: skip
        assert len({r.partition for r, _ in got}) == 1  # sorted in one partition
        return [(r.timestamp_ms, *(v[c] for c in columns)) for r, v in got]

    assert rows("KINDS", "SECTOR") == want["KINDS"]
    got = rows("SORTED", "TICKER", "PRICE")
    assert [(t, k) for t, k, _ in got] == [(t, k) for t, k, _ in want["SORTED"]]
    assert [p for _, _, p in got] == pytest.approx([p for _, _, p in want["SORTED"]])
    errors = error_rows(stack_settings, app.errors)
    assert {e["ERROR_NAME"] for e in errors} == {"Out_Of_Order_Row"}
    assert {e["PUMP_NAME"].split("$")[0] for e in errors} == {"KINDS_PUMP", "SORTED_PUMP"}
    assert len(errors) == late, json.dumps(errors[:2])
