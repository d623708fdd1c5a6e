"""IN and EXISTS subqueries over a reference table in S3/MinIO, on the real stack: an
application of ``sql_apps/reference_subquery`` over 4,000 trades in 4 partitions (Kafka
timestamps near now), its output read back with read_committed and checked against DuckDB
evaluating the same predicates over the records in the input topic and the same table."""

from __future__ import annotations

import csv
import io

import pytest

from ground.settings import Settings
from tests.integration.fixtures_sinks import s3_client
from tests.integration.sql_apps_support import (
    PARTITIONS,
    RECORDS,
    Dataset,
    by_partition,
    deploy,
    input_table,
    output,
    produce,
    run_app,
    start_ms,
    ticker_records,
)
from tests.rows import assert_same_sequence

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: Ticker, sector, price limit: near each ticker's starting price, so trades fall on both
#: sides; HEALTHCARE and AUTOMOBILE are not in the table (their trades are left out).
LIMITS = [
    ("AMZN", "TECHNOLOGY", 185.0),
    ("MSFT", "TECHNOLOGY", 415.0),
    ("XOM", "ENERGY", 112.5),
    ("JPM", "FINANCIAL", 201.0),
    ("TGT", "RETAIL", 142.0),
]


@pytest.fixture(scope="module")
def tickers(stack_settings: Settings, module_topic_factory) -> Dataset:
    topic = module_topic_factory(PARTITIONS, prefix="it-ticker-subq")
    records = ticker_records(RECORDS, seed=17, start_ms=start_ms())
    produce(stack_settings.kafka, topic, records, PARTITIONS)
    return Dataset(topic, PARTITIONS, RECORDS)


def test_in_and_exists_over_a_reference_table(
    stack_settings, tickers, topic_factory, bucket_factory, tmp_path, workers
):
    bucket = bucket_factory("it-refdata")
    body = io.StringIO()
    csv.writer(body, lineterminator="\n").writerows([("Ticker", "Sector", "Limit"), *LIMITS])
    client = s3_client(stack_settings)
    client.put_object(Bucket=bucket, Key="limits.csv", Body=body.getvalue().encode())
    client.close()
    app = deploy("reference_subquery", tmp_path, topic_factory, tickers, bucket=bucket)
    con = input_table(stack_settings.kafka, tickers.topic)
    con.execute("CREATE TABLE limits (ticker VARCHAR, sector VARCHAR, lim DOUBLE)")
    con.executemany("INSERT INTO limits VALUES (?, ?, ?)", LIMITS)
    expected = con.execute(
        """SELECT part, ticker, sector, price, ticker IN (SELECT ticker FROM limits)
           FROM s
           WHERE sector IN (SELECT sector FROM limits)
             AND NOT EXISTS (SELECT 1 FROM limits AS l
                             WHERE l.ticker = s.ticker AND l.lim < s.price)
           ORDER BY part, off"""
    ).fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: len(expected)})

    got = by_partition(output(stack_settings, out_topic))
    for p in range(tickers.partitions):
        rows = [
            (v["TICKER_SYMBOL"], v["SECTOR"], v["PRICE"], v["Limited"]) for v in got.get(p, [])
        ]
        assert_same_sequence(rows, [r[1:] for r in expected if r[0] == p], what=f"partition {p}")
    # the data exercise every branch: limited and unlimited tickers kept, some trades of a
    # limited ticker dropped, sectors not in the table dropped
    assert {r[4] for r in expected} == {True, False}
    limited = {t for t, _, _ in LIMITS}
    dropped = con.execute(
        "SELECT COUNT(*) FROM s JOIN limits USING (ticker) WHERE s.price > limits.lim"
    ).fetchone()
    assert dropped is not None and dropped[0] > 0
    assert {r[1] for r in expected} - limited
    assert len(expected) < tickers.records


def test_in_and_exists_over_grouped_joined_and_combined_reference_data(
    stack_settings, tickers, topic_factory, bucket_factory, tmp_path, workers
):
    bucket = bucket_factory("it-refdata")
    body = io.StringIO()
    csv.writer(body, lineterminator="\n").writerows([("Ticker", "Sector", "Limit"), *LIMITS])
    client = s3_client(stack_settings)
    client.put_object(Bucket=bucket, Key="limits.csv", Body=body.getvalue().encode())
    client.close()
    app = deploy("reference_subquery_relational", tmp_path, topic_factory, tickers, bucket=bucket)
    con = input_table(stack_settings.kafka, tickers.topic)
    con.execute("CREATE TABLE limits (ticker VARCHAR, sector VARCHAR, lim DOUBLE)")
    con.executemany("INSERT INTO limits VALUES (?, ?, ?)", LIMITS)
    expected = con.execute(
        """SELECT part, ticker, sector, price,
                  EXISTS (SELECT l.sector FROM limits AS l WHERE l.sector = s.sector
                          GROUP BY l.sector HAVING MAX(l.lim) > s.price)
           FROM s
           WHERE sector IN (SELECT sector FROM limits GROUP BY sector HAVING COUNT(*) >= 1
                            UNION SELECT 'HEALTHCARE' FROM limits)
             AND ticker NOT IN (SELECT a.ticker FROM limits AS a JOIN limits AS b
                                ON a.sector = b.sector AND a.ticker <> b.ticker)
           ORDER BY part, off"""
    ).fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: len(expected)})

    got = by_partition(output(stack_settings, out_topic))
    for p in range(tickers.partitions):
        rows = [
            (v["TICKER_SYMBOL"], v["SECTOR"], v["PRICE"], v["Below"]) for v in got.get(p, [])
        ]
        assert_same_sequence(rows, [r[1:] for r in expected if r[0] == p], what=f"partition {p}")
    # every branch: both flags, HEALTHCARE kept by the UNION, AUTOMOBILE and the tickers
    # sharing a listed sector (AMZN, MSFT) left out
    assert {r[4] for r in expected} == {True, False}
    assert "HEALTHCARE" in {r[2] for r in expected}
    assert not {"AMZN", "MSFT", "TSLA"} & {r[1] for r in expected}
    assert len(expected) < tickers.records
