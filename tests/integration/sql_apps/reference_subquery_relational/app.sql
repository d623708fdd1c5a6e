-- IN and EXISTS over relations of a reference table (SQL Reference, "Streaming SQL
-- Operators"): the trades of the sectors the table lists (grouped) and of HEALTHCARE (a
-- UNION), without the tickers that share their sector with another listed one (a join of
-- the table with itself), each flagged with whether its price is below the highest limit
-- of its sector (a correlated, grouped EXISTS with HAVING).
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    SECTOR        VARCHAR(16),
    PRICE         REAL,
    "Below"       BOOLEAN);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, sector, price,
       EXISTS (SELECT l."Sector" FROM "Limits" AS l WHERE l."Sector" = s.sector
               GROUP BY l."Sector" HAVING MAX(l."Limit") > s.price)
FROM "SOURCE_SQL_STREAM_001" AS s
WHERE sector IN (SELECT "Sector" FROM "Limits" GROUP BY "Sector" HAVING COUNT(*) >= 1
                 UNION SELECT 'HEALTHCARE' FROM "Limits")
  AND ticker_symbol NOT IN (SELECT a."Ticker" FROM "Limits" AS a JOIN "Limits" AS b
                            ON a."Sector" = b."Sector" AND a."Ticker" <> b."Ticker");
