"""A one-pump application over a stream ``IN`` (LOG, N), run on rows."""

from __future__ import annotations

from typing import Any

from pipelines.sql.engine import run_rows
from pipelines.sql.plan import StreamColumn, plan_application
from pipelines.sql.types import parse_type

LOG = StreamColumn("LOG", parse_type("VARCHAR(256)"))
INPUTS = {"IN": [LOG, StreamColumn("N", parse_type("INTEGER"))]}
CLF = '192.168.254.30 - John [24/May/2004:22:01:02 -0700] "GET /icons/apache_pb.gif HTTP/1.1" 304 0'


def run(columns: str, select: str, records: list[tuple[int, tuple[Any, ...]]], **kw: Any) -> Any:
    code = (
        f'CREATE OR REPLACE STREAM "OUT" ({columns});\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM {select} FROM "IN";\n'
    )
    plan = plan_application(code, application="t", inputs=INPUTS, **kw)
    streams, failures = run_rows(plan, records, source="IN")
    return streams.get("OUT", []), failures
