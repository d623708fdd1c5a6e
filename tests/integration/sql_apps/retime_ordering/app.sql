-- expr AS ROWTIME with DISTINCT and a streaming ORDER BY, on a topic keyed by ticker: the
-- rows are re-timed in one partition (a row whose new ROWTIME goes back is an
-- Out_Of_Order_Row error), then made distinct and sorted.

-- 1. each sector once per second of its trades' event time, sorted by sector descending
CREATE OR REPLACE STREAM "KINDS" (SECTOR VARCHAR(16));

CREATE OR REPLACE PUMP "KINDS_PUMP" AS INSERT INTO "KINDS"
SELECT STREAM DISTINCT FLOOR(event_time TO SECOND) AS ROWTIME, sector
FROM "SOURCE_SQL_STREAM_001"
ORDER BY ROWTIME, sector DESC;

-- 2. the trades at their event time, each second of the input's ROWTIME sorted by price
CREATE OR REPLACE STREAM "SORTED" (TICKER VARCHAR(4), PRICE REAL);

CREATE OR REPLACE PUMP "SORTED_PUMP" AS INSERT INTO "SORTED"
SELECT STREAM ticker_symbol, price, event_time AS ROWTIME
FROM "SOURCE_SQL_STREAM_001" AS s
ORDER BY FLOOR(s.ROWTIME TO SECOND), price DESC;
