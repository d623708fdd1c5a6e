-- Rising and falling trades of the same sector within a second: JOIN … USING (sector), on
-- a topic keyed by ticker (the join runs behind a repartition). SELECT * is the join column
-- once, first, then the rest of UPS, then the rest of DOWNS.
CREATE OR REPLACE STREAM "UPS" (ticker VARCHAR(4), sector VARCHAR(16), price REAL);
CREATE OR REPLACE PUMP "UP_PUMP" AS INSERT INTO "UPS"
SELECT STREAM ticker_symbol, sector, price FROM "SOURCE_SQL_STREAM_001" WHERE change > 1;

CREATE OR REPLACE STREAM "DOWNS" (price REAL, sector VARCHAR(16), ticker VARCHAR(4));
CREATE OR REPLACE PUMP "DOWN_PUMP" AS INSERT INTO "DOWNS"
SELECT STREAM price, sector, ticker_symbol FROM "SOURCE_SQL_STREAM_001" WHERE change < -1;

CREATE OR REPLACE STREAM "SECTOR_SWINGS" (
    SECTOR VARCHAR(16), UP_TICKER VARCHAR(4), UP_PRICE REAL, DOWN_PRICE REAL,
    DOWN_TICKER VARCHAR(4), SAME_SECTOR BOOLEAN);

CREATE OR REPLACE PUMP "SWING_PUMP" AS INSERT INTO "SECTOR_SWINGS"
SELECT STREAM *, u.sector = d.sector
FROM "UPS" AS u JOIN "DOWNS" OVER (RANGE INTERVAL '1' SECOND PRECEDING) AS d
  USING (sector);
