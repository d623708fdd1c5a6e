-- KDA Developer Guide, "Example: Adding Reference Data to a Kinesis Data Analytics
-- Application": every trade with its company name (NULL for tickers not in the table).
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    "Company"     VARCHAR(64),
    SECTOR        VARCHAR(16),
    CHANGE        REAL,
    PRICE         REAL);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, "c"."Company", sector, change, price
FROM "SOURCE_SQL_STREAM_001" LEFT JOIN "CompanyName" AS "c"
ON "SOURCE_SQL_STREAM_001".ticker_symbol = "c"."Ticker";
