-- Per ticker and per 60-second tumbling window of event time: count, min, max and average
-- price (the KDA guide's stock-ticker example). The results keep the field names and the
-- epoch-millisecond window bounds this application has always written.
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "ticker_symbol"   VARCHAR(8),
    "window_start_ms" BIGINT,
    "window_end_ms"   BIGINT,
    "count"           BIGINT,
    "min_price"       DOUBLE,
    "max_price"       DOUBLE,
    "avg_price"       DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM TICKER_SYMBOL,
       TSDIFF(STEP(EVENT_TIME BY INTERVAL '60' SECOND), 0),
       TSDIFF(STEP(EVENT_TIME BY INTERVAL '60' SECOND), 0) + 60000,
       COUNT(*), MIN(PRICE), MAX(PRICE), AVG(PRICE)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY TICKER_SYMBOL, STEP(EVENT_TIME BY INTERVAL '60' SECOND);
