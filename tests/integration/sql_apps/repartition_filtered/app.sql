-- A filter pump into an in-application stream, then per-sector windows on event time, on a
-- topic keyed by ticker: the tickers of some partitions never pass the filter, while records
-- keep arriving on every partition. The windows come out as the partitions that pass rows
-- move on (a partition none of whose rows reach the windows is quiet: docs/sql.md).
CREATE OR REPLACE STREAM "KEPT" (
    TICKER     VARCHAR(4),
    SECTOR     VARCHAR(16),
    PRICE      REAL,
    EVENT_TIME TIMESTAMP);

CREATE OR REPLACE PUMP "KEEP_PUMP" AS INSERT INTO "KEPT"
SELECT STREAM ticker_symbol, sector, price, event_time
FROM "SOURCE_SQL_STREAM_001"
WHERE sector IN ('TECHNOLOGY', 'FINANCIAL', 'HEALTHCARE');

-- partial aggregates cross the repartition
CREATE OR REPLACE STREAM "KEPT_PER_SECTOR" (
    SECTOR       VARCHAR(16),
    WINDOW_START TIMESTAMP,
    TRADES       BIGINT,
    TOTAL_PRICE  DOUBLE);

CREATE OR REPLACE PUMP "KEPT_SECTOR_PUMP" AS INSERT INTO "KEPT_PER_SECTOR"
SELECT STREAM sector, STEP("KEPT".event_time BY INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM "KEPT"
GROUP BY sector, STEP("KEPT".event_time BY INTERVAL '10' SECOND);

-- FIRST_VALUE does not merge: the rows cross, through late gates
CREATE OR REPLACE STREAM "KEPT_FIRST" (
    SECTOR       VARCHAR(16),
    WINDOW_START TIMESTAMP,
    TRADES       BIGINT,
    FIRST_PRICE  REAL);

CREATE OR REPLACE PUMP "KEPT_FIRST_PUMP" AS INSERT INTO "KEPT_FIRST"
SELECT STREAM sector, STEP("KEPT".event_time BY INTERVAL '10' SECOND), COUNT(*),
       FIRST_VALUE(price)
FROM "KEPT"
GROUP BY sector, STEP("KEPT".event_time BY INTERVAL '10' SECOND);
