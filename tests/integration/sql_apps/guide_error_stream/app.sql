-- KDA Developer Guide, "Example: Exploring the In-Application Error Stream": the guide's query
-- as published, in a pump (the guide runs it in the console).
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4),
    sector        VARCHAR(16),
    change        REAL,
    ProblemColumn REAL);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, sector, change, (price / 0) as ProblemColumn
FROM "SOURCE_SQL_STREAM_001"
WHERE sector SIMILAR TO '%TECH%';
