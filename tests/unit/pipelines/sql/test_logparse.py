"""The log-parsing functions (pipelines/sql/_scalar_logparse.py through functions.LOG_PARSERS):
their row types, and their parses checked by round trips (lines composed from known fields parse
back to those fields) and against Python's csv module for quoted, delimited text."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest

from ground.errors import RowError, SqlPlanError, SqlUnsupportedError
from pipelines.sql import functions as F
from pipelines.sql.types import SqlType, Timestamp, TypeKind, parse_timestamp, parse_type


def build(name: str, *constants: Any) -> F.RowParser:
    return F.LOG_PARSERS[name].build(list(constants))


def names(parser: F.RowParser) -> list[str]:
    return [n for n, _ in parser.row_type.fields or ()]


# ---------------------------------------------------------------- REGEX_LOG_PARSE

GUIDE_LOG = (
    '203.0.113.24 - - [25/Mar/2018:15:25:37 -0700] "GET /index.php HTTP/1.1" 200 125 "-" '
    '"Mozilla/5.0 [en] Gecko/20100101 Firefox/52.0"'
)


def test_regex_log_parse_columns_are_the_groups() -> None:
    # the developer guide's example pattern (examples-transforming-strings-regexlogparse)
    parser = build("REGEX_LOG_PARSE", r"(\w.+) (\d.+) (\w.+) (\w.+)")
    assert names(parser) == ["COLUMN1", "COLUMN2", "COLUMN3", "COLUMN4"]
    assert {t for _, t in parser.row_type.fields or ()} == {SqlType(TypeKind.VARCHAR, length=1024)}
    row = parser(GUIDE_LOG)
    assert row is not None and len(row) == 4
    assert " ".join(row) == GUIDE_LOG  # greedy groups split at the last spaces that fit
    assert parser("no digits here") is None  # no match: a NULL row
    assert parser(None) is None


def test_regex_log_parse_matches_the_whole_text() -> None:
    parser = build("REGEX_LOG_PARSE", "([A-Z]+)-(\\d+)")
    assert parser("AB-12") == ("AB", "12")
    assert parser("xAB-12") is None and parser("AB-12x") is None


def test_regex_log_parse_typed_columns() -> None:
    parser = build(
        "REGEX_LOG_PARSE",
        r"(\w+) (\d+) (\S+)",
        "NAME VARCHAR(8), N INTEGER, AT TYPE TIMESTAMP 'dd/MM/yyyy'",
    )
    assert names(parser) == ["NAME", "N", "AT"]
    assert parser("abc 42 03/02/2024") == ("abc", 42, parse_timestamp("2024-02-03"))
    with pytest.raises(RowError):
        parser("abc 42 03-02-2024")
    with pytest.raises(SqlPlanError, match="2 columns for 3 groups"):
        build("REGEX_LOG_PARSE", r"(\w+) (\d+) (\S+)", "A VARCHAR(3), B INTEGER")
    with pytest.raises(SqlPlanError, match="bad regular expression"):
        build("REGEX_LOG_PARSE", "(unclosed")


# ---------------------------------------------------------------- FAST_REGEX_LOG_PARSER


@pytest.mark.parametrize(
    ("pattern", "text", "want"),
    [
        # lazy: the first group takes as little as the rest allows
        ("(.*)_(.*)", "a_b_c", ("a", "b_c")),
        ('(.*)"-"(.*)', "x-y-z", ("x", "y-z")),
        ("([0-9]+)[ ]+(@)", "123   rest of line", ("123", "  rest of line")),  # one space is enough
        ("([a-z]{2,3})(.*)", "abcdef", ("ab", "cdef")),
        ("(a|b)+(c)", "abbac", ("a", "c")),  # a repeated group keeps its last repetition
        ("([^,]*),(( ))", "left, ", ("left", " ", " ")),
        ("(x)()", "x", ("x", "")),
        ('(\\.)(\\")', '."', (".", '"')),
    ],
)
def test_fast_regex_parses_lazily_and_whole(pattern: str, text: str, want: tuple[str, ...]) -> None:
    parser = build("FAST_REGEX_LOG_PARSER", pattern)
    assert names(parser) == [f"COLUMN{i}" for i in range(1, len(want) + 1)]
    assert parser(text) == want


def test_fast_regex_unaccounted_characters_give_no_row() -> None:
    parser = build("FAST_REGEX_LOG_PARSE", "([0-9]+)-([0-9]+)")
    assert parser("12-34") == ("12", "34")
    assert parser("12-34 trailing") is None
    assert build("FAST_REGEX_LOG_PARSER", "(#)")("anything") is None  # the empty language


@pytest.mark.parametrize("pattern", ["(a)&(b)", "~(a)", "(<IP>)", "(<1-10>)"])
def test_fast_regex_constructs_not_supported_are_refused(pattern: str) -> None:
    with pytest.raises(SqlUnsupportedError):
        build("FAST_REGEX_LOG_PARSER", pattern)


@pytest.mark.parametrize("pattern", ["(a", "a)", "[a", '"open', "a{x}", "[z-a]", "\\"])
def test_fast_regex_bad_patterns_are_plan_errors(pattern: str) -> None:
    with pytest.raises(SqlPlanError):
        build("FAST_REGEX_LOG_PARSER", pattern)


# ---------------------------------------------------------------- FIXED_COLUMN_LOG_PARSE


def test_fixed_columns_round_trip() -> None:
    parser = build(
        "FIXED_COLUMN_LOG_PARSE",
        "HOST TYPE VARCHAR(8) START 0 FOR 8, CODE TYPE INTEGER START 8 FOR 4, "
        "\"at\" TYPE TIMESTAMP 'dd/MMM/yyyy:HH:mm:ss' START 12 FOR 20, "
        "REST TYPE VARCHAR(64) START 32",
    )
    assert names(parser) == ["HOST", "CODE", "at", "REST"]
    types = [t for _, t in parser.row_type.fields or ()]
    assert types == [parse_type("VARCHAR(8)"), parse_type("INTEGER"), parse_type("TIMESTAMP"),
                     parse_type("VARCHAR(64)")]  # fmt: skip
    r = random.Random(3)
    for _ in range(200):
        host = "".join(r.choice("abcdefgh") for _ in range(8))
        code = r.randint(100, 9999)
        moment = Timestamp(r.randrange(0, 4_000_000_000) * 1000)
        stamp = F.timestamp_to_char("dd/MMM/yyyy:HH:mm:ss", moment)
        rest = "".join(r.choice("xyz ") for _ in range(r.randint(0, 20)))
        line = f"{host}{code:>4}{stamp}{rest}"
        assert parser(line) == (host, code, moment, rest)


def test_fixed_columns_short_lines_and_not_null() -> None:
    parser = build(
        "FIXED_COLUMN_LOG_PARSE", "A TYPE CHAR(2) START 0 FOR 2, B TYPE BIGINT NOT NULL START 2"
    )
    assert parser("xy17") == ("xy", 17)
    with pytest.raises(RowError, match="NOT NULL"):
        parser("xy")
    with pytest.raises(SqlPlanError, match="START"):
        build("FIXED_COLUMN_LOG_PARSE", "A TYPE CHAR(2)")


# ---------------------------------------------------------------- VARIABLE_COLUMN_LOG_PARSE


def test_variable_columns_by_count() -> None:
    parser = build("VARIABLE_COLUMN_LOG_PARSE", 3, ",")
    assert names(parser) == ["COLUMN1", "COLUMN2", "COLUMN3"]
    assert parser("x,y,z") == ("x", "y", "z")
    assert parser("x,y") == ("x", "y", None)  # missing fields are NULL
    assert parser("a,b,c,d") == ("a", "b", "c")


def test_variable_columns_escape_splits_like_the_reference() -> None:
    # sql-reference-variable-column-log-parse.html: with a backslash escape, "a\,b" is one field
    parser = build("VARIABLE_COLUMN_LOG_PARSE", 2, ",", "\\", '"')
    assert parser("a,b") == ("a", "b")
    assert parser("a\\,b") == ("a,b", None)


def test_variable_columns_quotes_match_python_csv() -> None:
    r = random.Random(9)
    parser = build(
        "VARIABLE_COLUMN_LOG_PARSE",
        "A TYPE VARCHAR(40), B TYPE VARCHAR(40), C TYPE INTEGER",
        ",",
        "",
        '"',
    )
    for _ in range(300):
        a = "".join(r.choice("ab ,;") for _ in range(r.randint(0, 8)))
        b = "".join(r.choice("xy ,") for _ in range(r.randint(0, 8)))
        c = r.randint(-999, 999)
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="").writerow([a, b, c])
        line = buffer.getvalue()
        expected = next(csv.reader([line]))
        assert parser(line) == (expected[0], expected[1], int(expected[2])), line


def test_variable_columns_typed_and_tab_delimited() -> None:
    parser = build("VARIABLE_COLUMN_LOG_PARSE", "N TYPE DOUBLE, WHEN TYPE DATE NOT NULL", "\t")
    assert parser("2.5\t2024-02-29") == (2.5, parse_timestamp("2024-02-29"))
    assert parser("\t2024-02-29")[0] is None  # empty text is NULL for a number
    with pytest.raises(RowError):
        parser("2.5\t")


# ---------------------------------------------------------------- SYS_LOG_PARSE


def test_sys_log_parse() -> None:
    parser = build("SYS_LOG_PARSE")
    assert names(parser) == ["COLUMN1", "COLUMN2"]
    assert [t.kind for _, t in parser.row_type.fields or ()] == [
        TypeKind.TIMESTAMP,
        TypeKind.VARCHAR,
    ]
    assert parser("Oct 11 22:14:15 mymachine su: 'su root' failed") == (
        parse_timestamp("1970-10-11 22:14:15"),
        "mymachine su: 'su root' failed",
    )
    assert parser("Feb  5 01:02:03 host x")[0] == parse_timestamp("1970-02-05 01:02:03")
    assert parser("not a syslog line") is None


# ---------------------------------------------------------------- W3C_LOG_PARSE


def _clf_fields(r: random.Random) -> tuple[str, ...]:
    host = ".".join(str(r.randint(0, 255)) for _ in range(4))
    user = r.choice(["-", "John", "frank"])
    moment = F.timestamp_to_char("dd/MMM/yyyy:HH:mm:ss", Timestamp(r.randrange(0, 2**31) * 1000))
    request = f"{r.choice(['GET', 'POST'])} /{r.choice(['a', 'icons/x.gif', 'b c'])} HTTP/1.1"
    return (
        host,
        "-",
        user,
        f"[{moment} -0700]",
        request,
        str(r.choice([200, 304, 404])),
        str(r.randint(0, 5000)),
    )


def test_w3c_common_round_trip() -> None:
    parser = build("W3C_LOG_PARSE", "COMMON")
    assert names(parser) == [f"COLUMN{i}" for i in range(1, 8)]
    assert parser.row_type.fields[6][1] == parse_type("BIGINT")  # %b: bytes  # type: ignore[index]
    r = random.Random(4)
    for _ in range(200):
        f = _clf_fields(r)
        line = f'{f[0]} {f[1]} {f[2]} {f[3]} "{f[4]}" {f[5]} {f[6]}'
        assert parser(line) == (*f[:6], int(f[6]))


def test_w3c_guide_example_and_dash_bytes() -> None:
    # the developer guide's web-log example (examples-transforming-strings-w3clogparse)
    parser = build("W3C_LOG_PARSE", "common")
    line = (
        '192.168.254.30 - John [24/May/2004:22:01:02 -0700] '
        '"GET /icons/apache_pb.gif HTTP/1.1" 304 0'
    )
    assert parser(line) == (
        "192.168.254.30", "-", "John", "[24/May/2004:22:01:02 -0700]",
        "GET /icons/apache_pb.gif HTTP/1.1", "304", 0,
    )  # fmt: skip
    assert parser(line[:-1] + "-")[6] is None
    assert parser("garbage") is None


def test_w3c_predefined_and_custom_formats() -> None:
    ncsa = build("W3C_LOG_PARSE", "NCSA EXTENDED")
    line = (
        '10.0.0.1 - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.0" 200 12 '
        '"http://example.com/" "Mozilla/5.0 (X11; Linux)"'
    )
    row = ncsa(line)
    assert row is not None and row[-2:] == ("http://example.com/", "Mozilla/5.0 (X11; Linux)")
    assert build("W3C_LOG_PARSE", "REFERER")("http://a/b ---> /index.html") == (
        "http://a/b",
        "/index.html",
    )
    assert build("W3C_LOG_PARSE", "AGENT")("Mozilla/5.0 (X11)") == ("Mozilla/5.0 (X11)",)
    custom = build("W3C_LOG_PARSE", "%h %{X-Id}i %D %%")
    assert custom("1.2.3.4 abc 1500 %") == ("1.2.3.4", "abc", "1500")
    with pytest.raises(SqlUnsupportedError):
        build("W3C_LOG_PARSE", "IIS")
    with pytest.raises(SqlPlanError):
        build("W3C_LOG_PARSE", "%Q")
