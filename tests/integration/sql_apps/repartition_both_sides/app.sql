-- One in-application stream written on both sides of a repartition, then read by two pumps.
-- ACTIVITY gets the raw rows of rising trades (stage 0, where the input is) and each
-- sector's traded value per 10 seconds (behind a repartition by sector). A per-label
-- window reads it (its rows from both stages come together behind a repartition of their
-- own), and a filter reads it (it runs in both stages, where the rows are written).
CREATE OR REPLACE STREAM "ACTIVITY" (LABEL VARCHAR(16), AMOUNT DOUBLE);
CREATE OR REPLACE PUMP "RAW_PUMP" AS INSERT INTO "ACTIVITY"
SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change > 1;
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "ACTIVITY"
SELECT STREAM sector, SUM(price) FROM "SOURCE_SQL_STREAM_001"
GROUP BY sector, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);

CREATE OR REPLACE STREAM "PER_LABEL" (LABEL VARCHAR(16), WINDOW_START TIMESTAMP,
    N BIGINT, TOTAL DOUBLE);
CREATE OR REPLACE PUMP "LABEL_PUMP" AS INSERT INTO "PER_LABEL"
SELECT STREAM label, STEP("ACTIVITY".ROWTIME BY INTERVAL '20' SECOND), COUNT(*), SUM(amount)
FROM "ACTIVITY" GROUP BY label, STEP("ACTIVITY".ROWTIME BY INTERVAL '20' SECOND);

CREATE OR REPLACE STREAM "BIG" (LABEL VARCHAR(16), AMOUNT DOUBLE);
CREATE OR REPLACE PUMP "BIG_PUMP" AS INSERT INTO "BIG"
SELECT STREAM label, amount FROM "ACTIVITY" WHERE amount > 150;
