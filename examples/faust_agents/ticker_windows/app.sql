-- Per ticker and 10 seconds of event time (KDA Developer Guide, "Tumbling Windows"): the
-- trades, their total price and the largest change. Rows for a window that already closed
-- go to the error stream as Late_Row.
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    WINDOW_START  TIMESTAMP,
    TRADES        BIGINT,
    TOTAL_PRICE   DOUBLE,
    MAX_CHANGE    REAL);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol,
       STEP(event_time BY INTERVAL '10' SECOND),
       COUNT(*), SUM(price), MAX(change)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY ticker_symbol, STEP(event_time BY INTERVAL '10' SECOND);
