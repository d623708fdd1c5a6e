-- GROUP BY a column that is not the key (sector, over a topic keyed by ticker) in a tumbling
-- window on event time: partial aggregates per input partition cross a repartition, and
-- late rows are Late_Row errors, decided per input partition as without the repartition.
CREATE OR REPLACE STREAM "SECTOR_EVENT_TIME" (
    SECTOR       VARCHAR(16),
    WINDOW_START TIMESTAMP,
    TRADES       BIGINT,
    TOTAL_PRICE  DOUBLE);

CREATE OR REPLACE PUMP "SECTOR_EVENT_TIME_PUMP" AS INSERT INTO "SECTOR_EVENT_TIME"
SELECT STREAM sector, STEP(event_time BY INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);
