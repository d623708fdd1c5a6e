-- KDA Developer Guide, "Stagger Windows": trades per ticker and minute of event time; a
-- window opens with the first row of its key and closes one minute (of ROWTIME) later.
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    EVENT_MINUTE  TIMESTAMP,
    TICKER_COUNT  BIGINT,
    MAX_PRICE     REAL);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, FLOOR(event_time TO MINUTE), COUNT(*), MAX(price)
FROM "SOURCE_SQL_STREAM_001"
WINDOWED BY STAGGER (
    PARTITION BY FLOOR(event_time TO MINUTE), ticker_symbol RANGE INTERVAL '1' MINUTE);
