-- KDA Developer Guide, "Streaming Data Operations: Stream Joins": OrderStream and TradeStream
-- made from one source of orders and trades (as in "Transforming Multiple Data Types"), then
-- the guide's two join queries as published, each in a pump.
CREATE OR REPLACE STREAM OrderStream (orderId INTEGER, ticker VARCHAR(4), amount INTEGER);
CREATE OR REPLACE STREAM TradeStream (
    tradeId INTEGER, orderId INTEGER, ticker VARCHAR(4), amount INTEGER);

CREATE OR REPLACE PUMP ORDER_PUMP AS INSERT INTO OrderStream
SELECT STREAM oid, oticker, oprice FROM "SOURCE_SQL_STREAM_001" WHERE recordtype = 'Order';
CREATE OR REPLACE PUMP TRADE_PUMP AS INSERT INTO TradeStream
SELECT STREAM tid, toid, tticker, tprice FROM "SOURCE_SQL_STREAM_001" WHERE recordtype = 'Trade';

CREATE OR REPLACE STREAM "JOINED_STREAM" (
    resultTime TIMESTAMP, orderId INTEGER, ticker VARCHAR(4), orderAmount INTEGER,
    tradeAmount INTEGER);
CREATE OR REPLACE PUMP JOIN_PUMP AS INSERT INTO "JOINED_STREAM"
SELECT STREAM
     ROWTIME, 
     o.orderId, o.ticker, o.amount AS orderAmount,
     t.amount AS tradeAmount
FROM OrderStream AS o
JOIN TradeStream OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS t
ON   o.orderId = t.orderId;

CREATE OR REPLACE STREAM "NAMED_WINDOW_STREAM" (
    resultTime TIMESTAMP, orderId INTEGER, ticker VARCHAR(4), orderAmount INTEGER,
    tradeAmount INTEGER);
CREATE OR REPLACE PUMP NAMED_WINDOW_PUMP AS INSERT INTO "NAMED_WINDOW_STREAM"
SELECT STREAM
    ROWTIME, 
    o.orderId, o.ticker, o.amount AS orderAmount,
    t.amount AS tradeAmount
FROM OrderStream AS o
JOIN TradeStream OVER t
ON o.orderId = t.orderId
WINDOW t AS
    (RANGE INTERVAL '1' MINUTE PRECEDING);
