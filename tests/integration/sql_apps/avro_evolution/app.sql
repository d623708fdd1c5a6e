-- KDA Developer Guide, "Tumbling Windows (Aggregations Using GROUP BY)": per ticker and
-- 10 seconds of ROWTIME (here the running maximum of the Kafka timestamps of a partition).
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    WINDOW_START  TIMESTAMP,
    TRADES        BIGINT,
    MIN_PRICE     REAL,
    MAX_PRICE     REAL,
    AVG_PRICE     DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol,
       STEP(ROWTIME BY INTERVAL '10' SECOND),
       COUNT(*), MIN(price), MAX(price), AVG(price)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY ticker_symbol, STEP(ROWTIME BY INTERVAL '10' SECOND);
