-- IN and EXISTS over a reference table (SQL Reference, "Streaming SQL Operators"): the trades
-- of the sectors the table lists, without those above their ticker's limit (a correlated
-- NOT EXISTS), each flagged with whether its ticker has a limit (an IN in the SELECT list).
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    SECTOR        VARCHAR(16),
    PRICE         REAL,
    "Limited"     BOOLEAN);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, sector, price,
       ticker_symbol IN (SELECT "Ticker" FROM "Limits")
FROM "SOURCE_SQL_STREAM_001" AS s
WHERE sector IN (SELECT "Sector" FROM "Limits")
  AND NOT EXISTS (SELECT 1 FROM "Limits" AS l
                  WHERE l."Ticker" = s.ticker_symbol AND l."Limit" < s.price);
