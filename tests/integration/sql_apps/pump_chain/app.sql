-- Two pumps in a row (KDA Developer Guide, "In-Application Streams and Pumps"): the first
-- filters and classifies rows into an intermediate stream with CASE and string functions,
-- the second aggregates that stream in 30-second tumbling windows of ROWTIME.
CREATE OR REPLACE STREAM "CLASSIFIED_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    SECTOR_CODE   VARCHAR(3),
    LABEL         VARCHAR(16),
    DIRECTION     VARCHAR(4),
    CHANGE        REAL,
    PRICE         REAL);

CREATE OR REPLACE PUMP "CLASSIFY_PUMP" AS INSERT INTO "CLASSIFIED_STREAM"
SELECT STREAM ticker_symbol,
       UPPER(SUBSTRING(sector FROM 1 FOR 3)),
       LOWER(ticker_symbol) || '-' || CAST(CHAR_LENGTH(sector) AS VARCHAR(4)),
       CASE WHEN change > 0.5 THEN 'UP' WHEN change < -0.5 THEN 'DOWN' ELSE 'FLAT' END,
       change, price
FROM "SOURCE_SQL_STREAM_001"
WHERE sector <> 'RETAIL' AND price > 30;

CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    SECTOR_CODE   VARCHAR(3),
    LABEL         VARCHAR(16),
    DIRECTION     VARCHAR(4),
    WINDOW_START  TIMESTAMP,
    TRADES        BIGINT,
    AVG_CHANGE    DOUBLE,
    MAX_PRICE     REAL);

CREATE OR REPLACE PUMP "WINDOW_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, sector_code, label, direction,
       STEP("CLASSIFIED_STREAM".ROWTIME BY INTERVAL '30' SECOND),
       COUNT(*), AVG(change), MAX(price)
FROM "CLASSIFIED_STREAM"
GROUP BY ticker_symbol, sector_code, label, direction,
         STEP("CLASSIFIED_STREAM".ROWTIME BY INTERVAL '30' SECOND);
