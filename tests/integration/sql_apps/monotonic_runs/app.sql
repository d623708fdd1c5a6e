-- Runs of five seconds of ROWTIME, per sector: a number computed from ROWTIME, declared
-- monotonic, is a GROUP BY key that is no window of time (KDA's MONOTONIC page). The groups
-- of a run close when the first row of the next run comes; the pump reads the whole stream
-- in one partition, in ROWTIME order (behind a repartition without a key).
CREATE OR REPLACE STREAM "SECTOR_RUNS" (
    RUN BIGINT, SECTOR VARCHAR(16), CLOSED TIMESTAMP, N BIGINT,
    FIRST_TICKER VARCHAR(4), LAST_TICKER VARCHAR(4));

CREATE OR REPLACE PUMP "RUN_PUMP" AS INSERT INTO "SECTOR_RUNS"
SELECT STREAM UNIX_TIMESTAMP(s.ROWTIME) / 5000, sector, ROWTIME, COUNT(*),
       MIN(ticker_symbol), MAX(ticker_symbol)
FROM "SOURCE_SQL_STREAM_001" AS s
GROUP BY MONOTONIC(UNIX_TIMESTAMP(s.ROWTIME) / 5000), sector;
