-- KDA Developer Guide, "Sliding Windows": a one-minute moving average per ticker, with the
-- window's minimum, maximum, row count and the previous price still in the window.
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    PRICE         REAL,
    EVENT_TIME    TIMESTAMP,
    AVG_PRICE     DOUBLE,
    MIN_PRICE     REAL,
    MAX_PRICE     REAL,
    TRADES        BIGINT,
    PREV_PRICE    REAL);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, price, event_time,
       AVG(price) OVER W1, MIN(price) OVER W1, MAX(price) OVER W1, COUNT(*) OVER W1,
       LAG(price, 1) OVER W1
FROM "SOURCE_SQL_STREAM_001"
WINDOW W1 AS (PARTITION BY ticker_symbol RANGE INTERVAL '1' MINUTE PRECEDING);
