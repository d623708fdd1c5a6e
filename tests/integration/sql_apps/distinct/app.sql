-- DISTINCT over windows, on a topic keyed by ticker whose groups span its partitions.

-- 1. aggregates of DISTINCT values per sector: each partition sends the set of the values it
--    saw (with their counts) across the repartition; the stage merges the sets
CREATE OR REPLACE STREAM "SECTOR_DISTINCT" (
    SECTOR       VARCHAR(16),
    WINDOW_START TIMESTAMP,
    TRADES       BIGINT,
    PRICE_SUM    DOUBLE,
    PRICE_MEAN   DOUBLE,
    PRICE_SD     DOUBLE);

CREATE OR REPLACE PUMP "SECTOR_DISTINCT_PUMP" AS INSERT INTO "SECTOR_DISTINCT"
SELECT STREAM sector, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND),
       COUNT(*), SUM(DISTINCT ROUND(price)), AVG(DISTINCT ROUND(price)),
       STDDEV_POP(DISTINCT ROUND(price))
FROM "SOURCE_SQL_STREAM_001"
GROUP BY sector, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);

-- 2. SELECT STREAM DISTINCT over the rows of a GROUP BY: per window, the kinds of tickers of
--    each sector (equal rows come from tickers in different partitions)
CREATE OR REPLACE STREAM "WINDOW_KINDS" (
    WINDOW_START TIMESTAMP,
    SECTOR       VARCHAR(16),
    HIGH         BOOLEAN);

CREATE OR REPLACE PUMP "WINDOW_KINDS_PUMP" AS INSERT INTO "WINDOW_KINDS"
SELECT STREAM DISTINCT STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND), sector,
       MAX(price) > 100
FROM "SOURCE_SQL_STREAM_001"
GROUP BY ticker_symbol, sector, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);

-- 3. a sliding window over each ticker's last rows, of DISTINCT values (no repartition)
CREATE OR REPLACE STREAM "TICKER_SLIDING" (
    TICKER       VARCHAR(4),
    PRICE        REAL,
    MEAN_LEVEL   DOUBLE,
    LEVEL_VAR    DOUBLE);

CREATE OR REPLACE PUMP "TICKER_SLIDING_PUMP" AS INSERT INTO "TICKER_SLIDING"
SELECT STREAM ticker_symbol, price, AVG(DISTINCT ROUND(price)) OVER W,
       VAR_SAMP(DISTINCT ROUND(price)) OVER W
FROM "SOURCE_SQL_STREAM_001"
WINDOW W AS (PARTITION BY ticker_symbol ROWS 10 PRECEDING);
