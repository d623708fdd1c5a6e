-- KDA Developer Guide, "Example: Extracting a Portion of a String (SUBSTRING Function)", as
-- published.
-- CREATE OR REPLACE STREAM for cleaned up referrer
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "ingest_time" TIMESTAMP,
    "referrer" VARCHAR(32));
    
CREATE OR REPLACE PUMP "myPUMP" AS 
   INSERT INTO "DESTINATION_SQL_STREAM"
      SELECT STREAM 
         "APPROXIMATE_ARRIVAL_TIME", 
         SUBSTRING("referrer", 12, (POSITION('.com' IN "referrer") - POSITION('www.' IN "referrer") - 4)) 
      FROM "SOURCE_SQL_STREAM_001";
