"""Fuzz targets: each takes one generated input and may raise only ``ShardlineError``.

A target is a function of one hypothesis-drawn value plus the strategy that draws it
(random values, and valid inputs from the examples mutated byte-wise or char-wise). The
harness (:func:`run_target`) turns any other exception, and any example that runs longer
than ``EXAMPLE_TIMEOUT_S`` (a hang), into a test failure.
"""

from __future__ import annotations

import copy
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from ground.errors import ShardlineError

__all__ = ["EXAMPLE_TIMEOUT_S", "TARGETS", "Hang", "Target", "check_one", "example_deadline"]

ROOT = Path(__file__).resolve().parents[2]
SQL_APPS = ROOT / "tests" / "integration" / "sql_apps"
DELIVERY_EXAMPLES = ROOT / "examples" / "deliveries"
EXAMPLE_TIMEOUT_S = 5.0


class Hang(Exception):
    """One example ran longer than ``EXAMPLE_TIMEOUT_S``."""


@contextmanager
def example_deadline(seconds: float = EXAMPLE_TIMEOUT_S) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread if the block runs longer than ``seconds``."""

    def _fire(signum: int, frame: object) -> None:
        raise Hang(f"example ran over {seconds} s")

    old = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check_one(func: Callable[[Any], object], value: Any) -> None:
    """Run ``func(value)``; a ``ShardlineError`` is an accepted answer, anything else a bug."""
    with example_deadline():
        try:
            func(value)
        except ShardlineError:
            pass


# --- mutation ------------------------------------------------------------------------------

def _mutate_bytes(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with bytes flipped, cut, inserted or truncated."""

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        buf = bytearray(seed)
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
            pos = draw(st.integers(0, max(len(buf) - 1, 0)))
            if op == "flip" and buf:
                buf[pos] = draw(st.integers(0, 255))
            elif op == "cut" and buf:
                del buf[pos:pos + draw(st.integers(1, 8))]
            elif op == "insert":
                buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
            else:
                del buf[pos:]
        return bytes(buf)

    return mutated()


def _mutate_text(seed: str, alphabet: str) -> st.SearchStrategy[str]:
    """``seed`` with characters replaced, deleted or inserted (from ``alphabet`` or any)."""

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        chars = list(seed)
        pieces = st.one_of(st.sampled_from(list(alphabet)), st.characters())
        for _ in range(draw(st.integers(1, 6))):
            op = draw(st.sampled_from(["replace", "delete", "insert", "swap"]))
            pos = draw(st.integers(0, max(len(chars) - 1, 0)))
            if op == "replace" and chars:
                chars[pos] = draw(pieces)
            elif op == "delete" and chars:
                del chars[pos:pos + draw(st.integers(1, 12))]
            elif op == "insert":
                chars[pos:pos] = list(draw(st.text(pieces, min_size=1, max_size=6)))
            elif chars:
                other = draw(st.integers(0, len(chars) - 1))
                chars[pos], chars[other] = chars[other], chars[pos]
        return "".join(chars)

    return mutated()


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["", "0", "-1", "GZIP", "JSON", "AVRO", "$.x"]),
)


def _mutate_mapping(seed: Any) -> st.SearchStrategy[Any]:
    """``seed`` (a parsed YAML document) with values replaced, keys dropped or added."""

    def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        out = [prefix]
        if isinstance(node, dict):
            for k, v in node.items():
                out += paths(v, (*prefix, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                out += paths(v, (*prefix, i))
        return out

    all_paths = paths(seed)
    anything = st.recursive(_SCALARS, lambda c: st.one_of(
        st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
        max_leaves=6)

    @st.composite
    def mutated(draw: st.DrawFn) -> Any:
        doc = copy.deepcopy(seed)
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(all_paths))
            if not path:
                continue
            parent = doc
            try:
                for key in path[:-1]:
                    parent = parent[key]
                leaf = path[-1]
                op = draw(st.sampled_from(["replace", "delete", "add"]))
                if op == "replace":
                    parent[leaf] = draw(anything)
                elif op == "delete":
                    del parent[leaf]
                elif isinstance(parent, dict):
                    parent[draw(st.text(max_size=10))] = draw(anything)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed or replaced the path
        return doc

    return mutated()


# --- targets -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Target:
    name: str
    func: Callable[[Any], object]
    strategy: st.SearchStrategy[Any]


def _codec_targets() -> list[Target]:
    from schemas import codec_for, decode_any, schema_names

    records = {
        "ticker": {"ticker_symbol": "AMZN", "sector": "TECHNOLOGY", "change": -1.5,
                   "price": 101.25, "event_time": 1_700_000_000_000},
    }
    seeds: list[bytes] = [b'{"a": 1}', b"\x00\x00\x00\x00\x01\x02"]
    for name in schema_names():
        for fmt in ("avro", "json"):
            try:
                seeds.append(codec_for(fmt, name).encode(records.get(name, {})))
            except ShardlineError:
                continue  # no sample for this schema: the random bytes cover it
    codecs = [codec_for(fmt, name) for name in schema_names() for fmt in ("avro", "json")]

    def decode(raw: bytes) -> None:
        for c in codecs:
            try:
                c.decode(raw)
            except ShardlineError:
                pass
        decode_any(raw)

    inputs = st.one_of(st.binary(max_size=256), *(_mutate_bytes(s) for s in seeds),
                       st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass")))
    return [Target("codec", decode, inputs)]


def _sql_apps() -> list[tuple[Any, str]]:
    from pipelines.sql.appconfig import load_application

    apps = []
    for folder in sorted(p for p in SQL_APPS.iterdir() if (p / "application.yaml").is_file()):
        config = load_application(folder)
        apps.append((config, config.read_code()))
    return apps


def _sql_targets() -> list[Target]:
    from pipelines.sql.plan import StreamColumn, TableInfo, plan_application

    apps = _sql_apps()
    codes = [code for _, code in apps]
    docs = ROOT / "docs" / "sql.md"
    if docs.is_file():
        text = docs.read_text("utf-8")
        codes += [block.split("```", 1)[0] for block in text.split("```sql\n")[1:]]

    def plan(code: str) -> None:
        for app, _ in apps:
            inputs = {i.stream_name: [StreamColumn(c.name, c.sql_type) for c in i.columns]
                      for i in app.inputs}
            tables = {r.table_name: TableInfo(
                r.table_name, tuple(StreamColumn(c.name, c.sql_type) for c in r.columns), ())
                for r in app.reference_data_sources}
            plan_application(code, application=app.application_name, inputs=inputs,
                             tables=tables, allowed_lateness_ms=0)

    sql_chars = " \n\t'\"()*,;.+-/<>=|%0123456789ABSELCTFROMWHEINUPxyz_"
    strategy = st.one_of(st.text(max_size=200), *(_mutate_text(c, sql_chars) for c in codes))
    # the function library: one pump per seed expression, mutated in its SQL and its patterns
    function_codes = [_FUNCTION_PUMP.format(expr=e) for e in SQL_FUNCTION_SEEDS]
    pattern_chars = sql_chars + "[]{}?@#&~<>\\^$ %hlutrsb"
    functions = st.one_of(*(_mutate_text(c, pattern_chars) for c in function_codes))
    return [Target("sql", plan, strategy), Target("sql_functions", plan, functions)]


_FUNCTION_PUMP = (
    'CREATE OR REPLACE STREAM "D" (v VARCHAR(64));\n'
    'CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n'
    'SELECT STREAM {expr} FROM "SOURCE_SQL_STREAM_001";\n'
)
#: Expressions over the ticker input that use the function library, seeds for mutation.
SQL_FUNCTION_SEEDS = [
    "UNIX_TIMESTAMP(event_time)",
    "TO_TIMESTAMP(UNIX_TIMESTAMP(event_time) + 1000)",
    "CHAR_TO_DATE('yyyy-MM-dd', '2024-02-29')",
    "CHAR_TO_TIME('HH:mm:ss', '12:34:56')",
    "DATE_TO_CHAR('dd/MM/yyyy', CURRENT_DATE)",
    "TIME_TO_CHAR('HH:mm', LOCALTIME)",
    "TIMESTAMP_TO_CHAR('yyyy-MM-dd HH:mm:ss', CURRENT_ROW_TIMESTAMP)",
    "CAST(LOCALTIMESTAMP AS VARCHAR(30))",
    "CAST(CURRENT_TIMESTAMP - ROWTIME AS VARCHAR(30))",
    "SUBSTRING(sector FROM 'E[A-Z]+')",
    "SUBSTRING(sector SIMILAR '%#\"NOLO#\"%' ESCAPE '#')",
    "REGEX_LOG_PARSE(sector, '(\\w+)(E.*)').COLUMN2",
    "FAST_REGEX_LOG_PARSER(sector, '([A-Z]+)\"OLO\"(.*)').COLUMN1",
    "VARIABLE_COLUMN_LOG_PARSE(sector, 'A TYPE VARCHAR(4), B TYPE INTEGER', 'O', '\\', '\"').A",
    "FIXED_COLUMN_LOG_PARSE(sector, 'A TYPE CHAR(2) START 0 FOR 2, B TYPE CHAR(9) START 2').B",
    "SYS_LOG_PARSE('Oct 11 22:14:15 host message').COLUMN2",
    "W3C_LOG_PARSE(sector, 'COMMON').COLUMN5",
    "W3C_LOG_PARSE(sector, '%h %{Referer}i %t \"%r\"').COLUMN1",
    "MONOTONIC(ticker_symbol)",
    "CAST(INTERVAL '3 4:20' DAY TO MINUTE AS VARCHAR(12))",
    "CAST(event_time - INTERVAL '1-2' YEAR TO MONTH * price AS VARCHAR(30))",
    "CAST(STEP(event_time BY INTERVAL '3' MONTH) AS VARCHAR(30))",
    "CAST(EXTRACT(MONTH FROM INTERVAL '-3-4' YEAR TO MONTH) AS VARCHAR(4))",
]


def _sql_query_targets() -> list[Target]:
    """Pumps of KDA's query language (subqueries, UNION ALL, joins, DISTINCT, ORDER BY,
    group_rank, AS ROWTIME …) mutated, planned and run over a few rows: planning may refuse
    (a ShardlineError), and the pumps it accepts must run without crashing (a failing row is
    an error row, not an exception)."""
    from pipelines.sql.engine import run_rows
    from pipelines.sql.plan import StreamColumn, TableInfo, plan_application
    from tests.unit.pipelines.sql import corpus
    from tests.unit.pipelines.sql.test_refusals import REFUSED_BY_KDA, UNSUPPORTED

    seeds = [corpus.QUERIES, corpus.CHAIN_AND_JOIN, corpus.STAGGER, corpus.TOP_K]
    for _, body, _ in UNSUPPORTED + REFUSED_BY_KDA:
        if body is not None:
            seeds.append(
                'CREATE OR REPLACE STREAM "U" (a VARCHAR(16), b DOUBLE);\n'
                'CREATE OR REPLACE STREAM "D" (a VARCHAR(16), b DOUBLE);\n'
                'CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n' + body.replace("@", "") + ";"
            )
    for folder in sorted(p for p in SQL_APPS.iterdir() if (p / "app.sql").is_file()):
        seeds.append((folder / "app.sql").read_text("utf-8"))
    inputs = {"SOURCE_SQL_STREAM_001": corpus.TICKER_COLUMNS}
    company = TableInfo(
        "CompanyName",
        (StreamColumn("Ticker", corpus.TICKER_COLUMNS[0].sql_type),
         StreamColumn("Company", corpus.TICKER_COLUMNS[1].sql_type)),
        (("T01", "One"), ("T02", "Two")),
    )
    records = corpus.ticker_records(40, seed=3, symbols=3)

    def plan_and_run(code: str) -> None:
        plan = plan_application(code, application="fuzz", inputs=inputs,
                                tables={"CompanyName": company}, allowed_lateness_ms=0)
        run_rows(plan, records, batch_size=7)

    chars = " \n\t'\"()*,;.+-/<>=|%0123456789ABSELCTFROMWHEINUPJODRGxyz_"
    strategy = st.one_of(*(_mutate_text(c, chars) for c in seeds), st.sampled_from(seeds))
    return [Target("sql_queries", plan_and_run, strategy)]


def _prefix_targets() -> list[Target]:
    from connectors.s3.prefix import compile_prefixes
    from ground.java_pattern import PatternError, tokenize

    seeds = ["", "data/", "year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
             "!{firehose:random-string}/", "err/!{firehose:error-output-type}/",
             "!{partitionKeyFromQuery:ticker}/!{timestamp:yyyy-MM-dd'T'HH}/",
             "!{timestamp:yyyy'/''x'}/"]
    chars = "!{}:/'yMdHhmsSTx-_=.partitionKeyFromQuery timestamp firehose"

    def prefix(text: str) -> None:
        for dyn in (False, True):
            try:
                compile_prefixes(text, text, dynamic_partitioning=dyn)
            except ShardlineError:
                pass

    def pattern(text: str) -> None:
        try:
            tokenize(text)
        except PatternError:
            pass  # tokenize's documented error; its callers turn it into a ShardlineError

    patterns = ["yyyy-MM-dd'T'HH:mm:ss.SSS", "'quoted '' text'", "EEE, d MMM yyyy"]
    return [
        Target("prefix", prefix,
               st.one_of(st.text(max_size=80), *(_mutate_text(s, chars) for s in seeds))),
        Target("java_pattern", pattern,
               st.one_of(st.text(max_size=60), *(_mutate_text(p, "yMdHms'T ") for p in patterns))),
    ]


def _config_targets() -> list[Target]:
    from connectors import load_deliveries
    from pipelines.sql.appconfig import ApplicationConfig

    deliveries: list[Any] = []
    for file in sorted(DELIVERY_EXAMPLES.rglob("*")):
        if file.suffix in (".yaml", ".yml"):
            deliveries.append(yaml.safe_load(file.read_text("utf-8")))
    apps = [(yaml.safe_load((p / "application.yaml").read_text("utf-8")), p)
            for p in sorted(SQL_APPS.iterdir()) if (p / "application.yaml").is_file()]

    def delivery(doc: Any) -> None:
        load_deliveries(doc) if isinstance(doc, dict) else load_deliveries({"deliveries": doc})

    def application(item: tuple[Any, Path]) -> None:
        doc, base = item
        ApplicationConfig.from_mapping(doc, base)

    app_strategy = st.one_of(*(
        st.tuples(_mutate_mapping(doc), st.just(base)) for doc, base in apps))
    return [
        Target("delivery_config", delivery,
               st.one_of(*(_mutate_mapping(d) for d in deliveries))),
        Target("app_config", application, app_strategy),
    ]


def _all() -> dict[str, Callable[[], list[Target]]]:
    return {"codec": _codec_targets, "sql": _sql_targets, "sql_queries": _sql_query_targets,
            "prefix": _prefix_targets, "config": _config_targets}


TARGETS = _all()
