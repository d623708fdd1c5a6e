-- Row errors do not stop an application (KDA Developer Guide, "Error Handling"): records that
-- are not JSON or whose values do not fit their columns, and rows whose expression fails in
-- a pump (here a division by zero), go to error_stream; every other row goes on.
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL    VARCHAR(4),
    PRICE            REAL,
    CHANGE           REAL,
    PRICE_PER_CHANGE DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, price, change, price / change
FROM "SOURCE_SQL_STREAM_001";
