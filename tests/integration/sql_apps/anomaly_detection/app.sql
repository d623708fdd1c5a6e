-- KDA Developer Guide, "Example: Detecting Data Anomalies on a Stream (RANDOM_CUT_FOREST
-- Function)", Step 2, as published up to its STREAM_PUMP. The guide's OUTPUT_PUMP (ORDER BY
-- FLOOR(ROWTIME TO SECOND), ANOMALY_SCORE DESC into DESTINATION_SQL_STREAM) needs ORDER BY in
-- a streaming query, which the planner refuses for now: TEMP_STREAM is the output here.
--Creates a temporary stream.
CREATE OR REPLACE STREAM "TEMP_STREAM" (
	        "heartRate"        INTEGER,
	        "rateType"         varchar(20),
	        "ANOMALY_SCORE"    DOUBLE);

-- Compute an anomaly score for each record in the input stream
-- using Random Cut Forest
CREATE OR REPLACE PUMP "STREAM_PUMP" AS 
   INSERT INTO "TEMP_STREAM"
      SELECT STREAM "heartRate", "rateType", ANOMALY_SCORE 
      FROM TABLE(RANDOM_CUT_FOREST(
              CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")));
