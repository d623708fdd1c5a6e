-- KDA Developer Guide, "Example: Creating Simple Alerts", as published.
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" 
           (ticker_symbol VARCHAR(4), 
            sector        VARCHAR(12), 
            change        DOUBLE, 
            price         DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS 
   INSERT INTO "DESTINATION_SQL_STREAM"
      SELECT STREAM ticker_symbol, sector, change, price 
      FROM   "SOURCE_SQL_STREAM_001"
      WHERE  (ABS(Change / (Price - Change)) * 100) > 1;
