"""Scalar functions, checked against DuckDB where KDA and DuckDB agree, and against
hand-derived KDA expectations (with the reference page cited) where they differ."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ground.errors import RowError
from pipelines.sql import functions as F
from pipelines.sql.types import (
    COERCION_ERROR,
    Date,
    Interval,
    Time,
    Timestamp,
    parse_timestamp,
    parse_type,
)

from .conftest import Oracle

RNG_SEED = 20260101
N = 400
DAY = 86_400_000


def rng() -> random.Random:
    return random.Random(RNG_SEED)


def errors(fn: Any, *args: Any) -> str:
    with pytest.raises(RowError) as info:
        fn(*args)
    return info.value.name


def rand_ts(r: random.Random) -> int:
    # 1901..2099, millisecond precision, both sides of the epoch
    return r.randint(-2_177_452_800_000, 4_102_444_800_000)


# ---------------------------------------------------------------- arithmetic


def test_integer_arithmetic_matches_duckdb(oracle: Oracle) -> None:
    r = rng()
    a = [r.randint(-(10**9), 10**9) for _ in range(N)]
    b = [r.choice([r.randint(-50, 50), r.randint(-(10**6), 10**6)]) or 7 for _ in range(N)]
    cols = {"a": ("BIGINT", a), "b": ("BIGINT", b)}
    assert [F.add(x, y) for x, y in zip(a, b, strict=True)] == oracle("a + b", cols)
    assert [F.sub(x, y) for x, y in zip(a, b, strict=True)] == oracle("a - b", cols)
    assert [F.mul(x, y) for x, y in zip(a, b, strict=True)] == oracle("a * b", cols)
    # SQL integer division truncates toward zero; DuckDB's // does too
    assert [F.div(x, y) for x, y in zip(a, b, strict=True)] == oracle("a // b", cols)
    assert [F.mod(x, y) for x, y in zip(a, b, strict=True)] == oracle("a % b", cols)
    assert [F.neg(x) for x in a] == oracle("-a", cols)


def test_double_arithmetic_matches_duckdb(oracle: Oracle) -> None:
    r = rng()
    a = [r.uniform(-1e6, 1e6) for _ in range(N)]
    b = [r.uniform(-1e3, 1e3) for _ in range(N)]
    cols = {"a": ("DOUBLE", a), "b": ("DOUBLE", b)}
    for fn, sql in ((F.add, "a + b"), (F.sub, "a - b"), (F.mul, "a * b"), (F.div, "a / b")):
        assert [fn(x, y) for x, y in zip(a, b, strict=True)] == oracle(sql, cols), sql
    assert [F.mod(x, y) for x, y in zip(a, b, strict=True)] == pytest.approx(
        oracle("a % b", cols), rel=1e-12
    )


def test_null_propagates_through_operators() -> None:
    for fn in (F.add, F.sub, F.mul, F.div, F.mod, F.eq, F.lt, F.concat, F.like):
        assert fn(None, 1 if fn is not F.concat and fn is not F.like else "a") is None
        assert fn(1 if fn is not F.concat and fn is not F.like else "a", None) is None
    assert F.neg(None) is None


def test_division_by_zero_is_a_row_error_for_every_numeric_type() -> None:
    # KDA writes divide-by-zero rows to the error stream (developer guide, error stream);
    # DuckDB would return NULL or infinity instead.
    for a, b in ((1, 0), (1.5, 0.0), (Decimal("1.5"), Decimal(0)), (7, 0.0), (0.0, 0)):
        assert errors(F.div, a, b) == F.DIVIDE_BY_ZERO
        assert errors(F.mod, a, b) == F.DIVIDE_BY_ZERO


def test_numeric_type_mixing() -> None:
    assert F.add(Decimal("1.25"), 2) == Decimal("3.25")
    assert type(F.mul(Decimal("1.25"), 2)) is Decimal
    assert type(F.add(Decimal("1.25"), 0.5)) is float
    assert F.div(Decimal("1"), 4) == Decimal("0.25")
    assert F.div(7, 2.0) == 3.5
    assert errors(F.add, True, 1) == COERCION_ERROR
    assert errors(F.add, "1", 1) == COERCION_ERROR


def test_datetime_arithmetic() -> None:
    ts = parse_timestamp("2024-02-28 23:30:00")
    hour, day = Interval(3_600_000), Interval(DAY)
    assert F.add(ts, hour) == parse_timestamp("2024-02-29 00:30:00")
    assert type(F.add(hour, ts)) is Timestamp
    assert type(F.sub(ts, hour)) is Timestamp
    assert F.sub(ts, parse_timestamp("2024-02-28 23:00:00")) == Interval(1_800_000)
    assert type(F.sub(ts, ts)) is Interval
    assert type(F.add(hour, hour)) is Interval and F.add(hour, hour) == 7_200_000
    assert F.mul(hour, 3) == Interval(10_800_000) and type(F.mul(3, hour)) is Interval
    assert F.div(hour, 4) == Interval(900_000)
    # DATE + whole days stays a DATE; anything else needs a TIMESTAMP
    date = Date(ts - ts % DAY)
    assert type(F.add(date, day)) is Date and F.add(date, day).text() == "2024-02-29"
    assert type(F.add(date, hour)) is Timestamp
    assert F.sub(Date(2 * DAY), Date(0)) == Interval(2 * DAY)
    assert F.add(Time(DAY - 1000), Interval(2000)) == Time(1000)
    assert errors(F.add, ts, ts) == COERCION_ERROR
    assert errors(F.add, ts, 5) == COERCION_ERROR


def test_timestamp_plus_interval_matches_duckdb(oracle: Oracle) -> None:
    r = rng()
    ts = [rand_ts(r) for _ in range(N)]
    ms = [r.randint(-10 * DAY, 10 * DAY) for _ in range(N)]
    got = [int(F.add(Timestamp(t), Interval(m))) for t, m in zip(ts, ms, strict=True)]
    want = oracle(
        "epoch_ms(epoch_ms(t) + to_milliseconds(m))", {"t": ("BIGINT", ts), "m": ("BIGINT", ms)}
    )
    assert got == want


# ---------------------------------------------------------------- logic and comparison

TRI = [True, False, None]


def test_three_valued_logic_matches_duckdb(oracle: Oracle) -> None:
    a = [x for x in TRI for _ in TRI]
    b = [y for _ in TRI for y in TRI]
    cols = {"a": ("BOOLEAN", a), "b": ("BOOLEAN", b)}
    assert [F.and_(x, y) for x, y in zip(a, b, strict=True)] == oracle("a AND b", cols)
    assert [F.or_(x, y) for x, y in zip(a, b, strict=True)] == oracle("a OR b", cols)
    assert [F.not_(x) for x in a] == oracle("NOT a", cols)


def test_comparisons_match_duckdb(oracle: Oracle) -> None:
    r = rng()
    a = [r.choice([None, r.randint(-3, 3)]) for _ in range(N)]
    b = [r.choice([None, r.randint(-3, 3)]) for _ in range(N)]
    c = [r.choice([None, r.randint(-3, 3)]) for _ in range(N)]
    cols = {"a": ("INT", a), "b": ("INT", b), "c": ("INT", c)}
    pairs = list(zip(a, b, strict=True))
    for fn, op in ((F.eq, "="), (F.ne, "<>"), (F.lt, "<"), (F.le, "<="), (F.gt, ">"), (F.ge, ">=")):
        assert [fn(x, y) for x, y in pairs] == oracle(f"a {op} b", cols), op
    assert [F.between(x, y, z) for x, y, z in zip(a, b, c, strict=True)] == oracle(
        "a BETWEEN b AND c", cols
    )
    assert [F.in_(x, (y, z, 1)) for x, y, z in zip(a, b, c, strict=True)] == oracle(
        "a IN (b, c, 1)", cols
    )
    assert [F.coalesce(x, y, z) for x, y, z in zip(a, b, c, strict=True)] == oracle(
        "coalesce(a, b, c)", cols
    )
    assert [F.nullif(x, y) for x, y in pairs] == oracle("nullif(a, b)", cols)
    assert F.is_null(None) and not F.is_null(0) and F.is_not_null("") and not F.is_not_null(None)


def test_incomparable_values_are_a_row_error() -> None:
    assert errors(F.lt, "a", 1) == COERCION_ERROR
    assert errors(F.eq, True, 1) == COERCION_ERROR


# ---------------------------------------------------------------- strings

ALPHABET = "ab c%_xÉé"


def rand_str(r: random.Random, alphabet: str = ALPHABET, most: int = 8) -> str:
    return "".join(r.choice(alphabet) for _ in range(r.randint(0, most)))


def test_case_length_concat_match_duckdb(oracle: Oracle) -> None:
    r = rng()
    s = [rand_str(r) for _ in range(N)]
    t = [rand_str(r) for _ in range(N)]
    cols = {"s": ("VARCHAR", s), "t": ("VARCHAR", t)}
    assert [F.upper(x) for x in s] == oracle("upper(s)", cols)
    assert [F.lower(x) for x in s] == oracle("lower(s)", cols)
    assert [F.char_length(x) for x in s] == oracle("length(s)", cols)
    assert F.character_length is F.char_length
    assert [F.concat(x, y) for x, y in zip(s, t, strict=True)] == oracle("s || t", cols)


def test_substring_matches_duckdb_for_positive_start(oracle: Oracle) -> None:
    r = rng()
    s = [rand_str(r, most=10) for _ in range(N)]
    start = [r.randint(1, 12) for _ in range(N)]
    length = [r.randint(0, 12) for _ in range(N)]
    cols = {"s": ("VARCHAR", s), "a": ("BIGINT", start), "n": ("BIGINT", length)}
    rows = list(zip(s, start, length, strict=True))
    assert [F.substring(x, a, n) for x, a, n in rows] == oracle("substring(s, a, n)", cols)
    assert [F.substring(x, a) for x, a, _ in rows] == oracle("substring(s, a)", cols)


@given(st.text(max_size=12), st.integers(-15, 15), st.integers(0, 15))
def test_substring_is_the_positions_inside_the_string(s: str, start: int, length: int) -> None:
    # SQL definition (and KDA, sql-reference-substring.html): characters at positions
    # start .. start+length-1 that exist; a start below 1 shortens the length. DuckDB counts a
    # negative start from the end instead, so it is not the oracle here.
    want = "".join(s[i - 1] for i in range(start, start + length) if 1 <= i <= len(s))
    assert F.substring(s, start, length) == want


def test_substring_kda_examples() -> None:
    # sql-reference-substring.html
    assert F.substring("123456789", 3, 4) == "3456"
    assert F.substring("123456789", 17, 4) == ""
    assert F.substring("123456789", -1, 4) == "12"
    assert F.substring("123456789", 6, 0) == ""
    assert F.substring("123456789", 8, 4) == "89"
    assert errors(F.substring, "abc", 1, -1) == F.INVALID_ARGUMENT


def test_position_and_trim_match_duckdb(oracle: Oracle) -> None:
    r = rng()
    h = [rand_str(r, "abx ", 10) for _ in range(N)]
    n = [rand_str(r, "abx ", 2) for _ in range(N)]
    cols = {"h": ("VARCHAR", h), "n": ("VARCHAR", n)}
    assert [F.position(x, y) for x, y in zip(n, h, strict=True)] == oracle("position(n IN h)", cols)
    assert [F.trim(x) for x in h] == oracle("trim(h)", cols)
    assert [F.trim(x, "BOTH", "x") for x in h] == oracle("trim(BOTH 'x' FROM h)", cols)
    assert [F.trim(x, "LEADING", "x") for x in h] == oracle("ltrim(h, 'x')", cols)
    assert [F.trim(x, "TRAILING", " ") for x in h] == oracle("rtrim(h)", cols)
    assert errors(F.trim, "abc", "BOTH", "ab") == F.INVALID_ARGUMENT


def test_like_matches_duckdb(oracle: Oracle) -> None:
    r = rng()
    s = [rand_str(r, "ab%_.", 6) for _ in range(N)]
    p = [rand_str(r, "ab%_.", 5) for _ in range(N)]
    cols = {"s": ("VARCHAR", s), "p": ("VARCHAR", p)}
    assert [F.like(x, y) for x, y in zip(s, p, strict=True)] == oracle("s LIKE p", cols)
    # with an escape: only valid escape sequences ('!' before %, _ or !)
    pe = [y.replace("%", "!%") if r.random() < 0.5 else y for y in p]
    cols["p"] = ("VARCHAR", pe)
    assert [F.like(x, y, "!") for x, y in zip(s, pe, strict=True)] == oracle(
        "s LIKE p ESCAPE '!'", cols
    )
    assert errors(F.like, "a", "a!b", "!") == F.INVALID_ARGUMENT


def test_similar_to() -> None:
    assert F.similar_to("abc", "(a|x)%") is True
    assert F.similar_to("abc", "a_") is False
    assert F.similar_to("a.c", "a.c") is True and F.similar_to("abc", "a.c") is False
    assert F.similar_to("aaa", "a+") is True


def test_initcap() -> None:
    # sql-reference-initcap.html
    assert F.initcap("Each FIRST lEtTeR is cAPITALIZED") == "Each First Letter Is Capitalized"
    assert F.initcap("  two  spaces") == "  Two  Spaces"
    assert F.initcap("o'neil-smith") == "O'neil-smith"  # only spaces delimit words
    assert F.initcap(None) is None


@given(st.text(alphabet="aB xY", max_size=20))
def test_initcap_per_word(s: str) -> None:
    assert F.initcap(s) == " ".join(w[:1].upper() + w[1:].lower() for w in s.split(" "))


def test_overlay() -> None:
    assert F.overlay("abcdef", "xyz", 2, 3) == "axyzef"
    assert F.overlay("abcdef", "xyz", 2) == "axyzef"
    assert F.overlay("abcdef", "xyz", 2, 0) == "axyzbcdef"
    assert F.overlay("abc", "xyz", 5) == "abcxyz"
    assert F.overlay(None, "x", 1) is None


@given(st.text(max_size=10), st.text(max_size=4), st.integers(1, 12), st.integers(0, 12))
def test_overlay_is_splice(s: str, rep: str, start: int, length: int) -> None:
    assert F.overlay(s, rep, start, length) == s[: start - 1] + rep + s[start - 1 + length :]


def test_regex_replace_all_matches_duckdb(oracle: Oracle) -> None:
    r = rng()
    s = [rand_str(r, "abc", 10) for _ in range(N)]
    cols = {"s": ("VARCHAR", s)}
    cases = [("a+", "X", "X"), ("(b)(c)", "$2$1", "\\2\\1"), ("[ab]c", "<$0>", "<\\0>")]
    for pattern, java_rep, duck_rep in cases:
        want = oracle(f"regexp_replace(s, '{pattern}', '{duck_rep}', 'g')", cols)
        assert [F.regex_replace(x, pattern, java_rep, 1, 0) for x in s] == want, pattern


def test_regex_replace_kda_parameters() -> None:
    # sql-reference-regex-replace.html: start position, occurrence (0 = all), errors
    assert F.regex_replace("TECHNOLOGY", "TECHNOLOGY", "INFORMATION TECHNOLOGY", 1, 0) == (
        "INFORMATION TECHNOLOGY"
    )
    assert F.regex_replace("aXaXa", "a", "b", 1, 2) == "aXbXa"
    assert F.regex_replace("aXaXa", "a", "b", 2, 0) == "aXbXb"
    assert F.regex_replace("aXaXa", "a", "b", 2, 1) == "aXbXa"
    assert F.regex_replace("abc", "a", "b", 4, 0) == "abc"  # past the end: unchanged
    assert F.regex_replace("abc", "z", "b", 1, 5) == "abc"
    assert F.regex_replace("a.b", "\\.", "\\$", 1, 0) == "a$b"  # Java: \$ is a literal $
    assert F.regex_replace("john smith", "(?<first>\\w+) (\\w+)", "$2, ${first}") == "smith, john"
    assert errors(F.regex_replace, "abc", "a", "b", 0, 0) == F.INVALID_ARGUMENT
    assert errors(F.regex_replace, "abc", "a", "b", 1, -1) == F.INVALID_ARGUMENT
    assert errors(F.regex_replace, "abc", "(", "b") == F.INVALID_ARGUMENT
    assert errors(F.regex_replace, "abc", "(a)", "$2") == F.INVALID_ARGUMENT


# ---------------------------------------------------------------- math


def test_rounding_functions_match_duckdb(oracle: Oracle) -> None:
    r = rng()
    dec = [Decimal(r.randint(-(10**7), 10**7)).scaleb(-4) for _ in range(N)]
    cols = {"x": ("DECIMAL(18,4)", dec)}
    for d in (-2, 0, 1, 3):
        assert [F.round(x, d) for x in dec] == oracle(f"round(x, {d})", cols), d
    assert [F.ceil(x) for x in dec] == oracle("ceil(x)", cols)
    assert [F.floor_number(x) for x in dec] == oracle("floor(x)", cols)
    ties = [k / 8 for k in range(-40, 41)]  # exact binary halves and quarters
    tcols = {"x": ("DOUBLE", ties)}
    assert [F.round(x, 0) for x in ties] == oracle("round(x, 0)", tcols)
    assert [F.round(x, 1) for x in ties] == oracle("round(x, 1)", tcols)
    ints = [r.randint(-(10**6), 10**6) for _ in range(N)]
    assert [F.round(x, -2) for x in ints] == oracle("round(x, -2)::BIGINT", {"x": ("BIGINT", ints)})


def test_floor_ceil_numeric_kda_examples() -> None:
    # sql-reference-floor.html, sql-reference-ceil.html
    assert [F.floor_number(Decimal(x)) for x in ("2.0", "-1.0", "5.2", "-3.3", "-9.3")] == [
        2, -1, 5, -4, -10,
    ]  # fmt: skip
    assert [F.ceil(Decimal(x)) for x in ("2.0", "-1.0", "5.2", "-3.3", "-9.3")] == [
        2,
        -1,
        6,
        -3,
        -9,
    ]
    assert F.floor_number(-3.5) == -4.0 and type(F.floor_number(-3.5)) is float
    assert F.ceil(7) == 7


def test_transcendental_functions_match_duckdb(oracle: Oracle) -> None:
    r = rng()
    x = [r.uniform(0.001, 1000) for _ in range(N)]
    y = [r.uniform(-3, 3) for _ in range(N)]
    cols = {"x": ("DOUBLE", x), "y": ("DOUBLE", y)}
    for fn, sql in ((F.sqrt, "sqrt(x)"), (F.ln, "ln(x)"), (F.log10, "log10(x)")):
        assert [fn(v) for v in x] == pytest.approx(oracle(sql, cols), rel=1e-12), sql
    assert [F.exp(v) for v in y] == pytest.approx(oracle("exp(y)", cols), rel=1e-12)
    assert [F.power(a, b) for a, b in zip(x, y, strict=True)] == pytest.approx(
        oracle("power(x, y)", cols), rel=1e-12
    )
    assert [F.abs(v) for v in y] == oracle("abs(y)", cols)
    assert F.abs(Interval(-5)) == Interval(5) and type(F.abs(Interval(-5))) is Interval
    for fn, bad in ((F.sqrt, -1.0), (F.ln, 0), (F.log10, -2)):
        assert errors(fn, bad) == F.INVALID_ARGUMENT
    assert errors(F.power, -8.0, 0.5) == F.INVALID_ARGUMENT
    assert errors(F.power, 0, -1) == F.DIVIDE_BY_ZERO


# ---------------------------------------------------------------- datetime


def test_extract_matches_duckdb(oracle: Oracle) -> None:
    r = rng()
    ts = [rand_ts(r) for _ in range(N)]
    cols = {"t": ("BIGINT", ts)}
    for unit in ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "QUARTER", "DOW", "DOY", "WEEK"):
        want = oracle(f"extract({unit} FROM epoch_ms(t))", cols)
        assert [F.extract(unit, Timestamp(t)) for t in ts] == want, unit
    assert [F.extract("MILLISECOND", Timestamp(t)) for t in ts] == oracle(
        "millisecond(epoch_ms(t))", cols
    )
    # KDA: SECOND is DECIMAL(5,3) with the milliseconds (sql-reference-extract.html);
    # DuckDB's second() is whole seconds, so compare against its millisecond field.
    want = [Decimal(ms).scaleb(-3) for ms in oracle("millisecond(epoch_ms(t))", cols)]
    assert [F.extract("second", Timestamp(t)) for t in ts] == want
    assert [F.extract("EPOCH", Timestamp(t)) for t in ts] == [Decimal(t).scaleb(-3) for t in ts]


def test_extract_kda_examples() -> None:
    # sql-reference-extract.html: INTERVAL '2 3:4:5.678' DAY TO SECOND
    iv = Interval(((2 * 24 + 3) * 60 + 4) * 60_000 + 5678)
    assert F.extract("DAY", iv) == 2
    assert F.extract("HOUR", iv) == 3
    assert F.extract("MINUTE", iv) == 4
    assert F.extract("SECOND", iv) == Decimal("5.678")
    assert F.extract("HOUR", Interval(-iv)) == -3
    ts = parse_timestamp("2016-09-23 04:29:26.234")
    assert F.extract("MINUTE", ts) == 29 and F.extract("HOUR", ts) == 4
    assert F.extract("HOUR", Time(13 * 3_600_000)) == 13
    assert F.extract("YEAR", Date(0)) == 1970
    assert errors(F.extract, "YEAR", Time(0)) == F.INVALID_ARGUMENT
    assert errors(F.extract, "FORTNIGHT", ts) == F.INVALID_ARGUMENT
    assert F.extract("DAY", None) is None


UNIT_SQL = {
    "MILLISECOND": "milliseconds",
    "SECOND": "second",
    "MINUTE": "minute",
    "HOUR": "hour",
    "DAY": "day",
    "WEEK": "week",
    "MONTH": "month",
    "QUARTER": "quarter",
    "YEAR": "year",
}


def test_floor_to_matches_duckdb_date_trunc(oracle: Oracle) -> None:
    r = rng()
    ts = [rand_ts(r) for _ in range(N)]
    cols = {"t": ("BIGINT", ts)}
    for unit, duck_unit in UNIT_SQL.items():
        want = oracle(f"epoch_ms(date_trunc('{duck_unit}', epoch_ms(t)))", cols)
        got = [F.floor_to(Timestamp(t), unit) for t in ts]
        assert got == want, unit
        assert all(type(g) is Timestamp for g in got)


def test_floor_and_ceil_to_kda_examples() -> None:
    # sql-reference-floor.html and sql-reference-ceil.html
    ts = parse_timestamp("2004-09-30 13:48:23")
    floor = {"HOUR": "2004-09-30 13:00:00", "MINUTE": "2004-09-30 13:48:00",
             "DAY": "2004-09-30 00:00:00", "YEAR": "2004-01-01 00:00:00"}  # fmt: skip
    ceil = {"HOUR": "2004-09-30 14:00:00", "MINUTE": "2004-09-30 13:49:00",
            "DAY": "2004-10-01 00:00:00", "YEAR": "2005-01-01 00:00:00"}  # fmt: skip
    for unit, text in floor.items():
        assert F.floor_to(ts, unit) == parse_timestamp(text)
    for unit, text in ceil.items():
        assert F.ceil_to(ts, unit) == parse_timestamp(text)
    assert type(F.floor_to(Date(ts - ts % DAY), "MONTH")) is Date
    assert F.floor_to(Time(13 * 3_600_000 + 5), "HOUR") == Time(13 * 3_600_000)
    assert F.ceil_to(Time(13 * 3_600_000 + 5), "HOUR") == Time(14 * 3_600_000)
    assert F.ceil_to(parse_timestamp("2004-12-31 23:00:00"), "MONTH") == parse_timestamp(
        "2005-01-01 00:00:00"
    )


@given(st.integers(-2_000_000_000_000, 4_000_000_000_000), st.sampled_from(sorted(UNIT_SQL)))
def test_ceil_to_is_the_next_boundary(ms: int, unit: str) -> None:
    ts = Timestamp(ms)
    up = F.ceil_to(ts, unit)
    assert up >= ts and F.floor_to(up, unit) == up
    assert F.floor_to(ts, unit) == ts or F.floor_to(Timestamp(up - 1), unit) < ts <= up


def test_step_matches_duckdb_time_bucket(oracle: Oracle) -> None:
    r = rng()
    ts = [rand_ts(r) for _ in range(N)]
    sizes = [r.choice([1, 250, 1000, 10_000, 60_000, 3_600_000, DAY, 7 * DAY]) for _ in range(N)]
    cols = {"t": ("BIGINT", ts), "w": ("BIGINT", sizes)}
    want = oracle(
        "epoch_ms(time_bucket(to_milliseconds(w), epoch_ms(t), TIMESTAMP '1970-01-01'))", cols
    )
    got = [F.step(Timestamp(t), Interval(w)) for t, w in zip(ts, sizes, strict=True)]
    assert got == want
    assert all(type(g) is Timestamp for g in got)


def test_step_integer_floors_toward_minus_infinity(oracle: Oracle) -> None:
    # sql-reference-step.html: "the largest multiple … equal to or smaller than" the input
    assert F.step(23, 5) == 20 and F.step(30, 10) == 30
    r = rng()
    a = [r.randint(-(10**6), 10**6) for _ in range(N)]
    b = [r.randint(1, 1000) for _ in range(N)]
    want = oracle("floor(a / b)::BIGINT * b", {"a": ("BIGINT", a), "b": ("BIGINT", b)})
    assert [F.step(x, y) for x, y in zip(a, b, strict=True)] == want
    assert F.step(-1, -5) == -5
    assert errors(F.step, 5, 0) == F.DIVIDE_BY_ZERO
    assert errors(F.step, Timestamp(5), Interval(0)) == F.INVALID_ARGUMENT
    ts = parse_timestamp("2004-09-30 13:48:23")
    assert F.step(ts, Interval(10_000)) == parse_timestamp("2004-09-30 13:48:20")


def test_tsdiff() -> None:
    # sql-reference-tsdiff.html: NULL if any argument is NULL; milliseconds
    a, b = parse_timestamp("2024-01-01 00:00:01.5"), parse_timestamp("2024-01-01 00:00:00")
    assert F.tsdiff(a, b) == 1500 and F.tsdiff(b, a) == -1500
    assert F.tsdiff(int(a), b) == 1500
    assert F.tsdiff(None, a) is None and F.tsdiff(a, None) is None
    assert type(F.tsdiff(a, b)) is int


def test_timestamp_to_char_matches_python_strftime() -> None:
    r = rng()
    for _ in range(N):
        ms = rand_ts(r)
        moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)
        want = moment.strftime("%Y-%m-%d %H:%M:%S ") + f"{moment.microsecond // 1000:03d}"
        assert F.timestamp_to_char("yyyy-MM-dd HH:mm:ss SSS", Timestamp(ms)) == want
        want12 = moment.strftime("%d/%b/%Y %I %p %a")
        assert F.timestamp_to_char("dd/MMM/yyyy hh a EEE", Timestamp(ms)) == want12


@given(
    st.integers(-2_000_000_000_000, 4_000_000_000_000),
    st.sampled_from(
        [
            "yyyy-MM-dd HH:mm:ss.SSS",
            "yyyyMMddHHmmssSSS",
            "dd MMMM yyyy hh:mm:ss.SSS a",
            "''yyyy'T'HH-mm-ss.SSS' 'MM/dd",
            "MMM d, yyyy K:mm:ss.SSS a",
        ]  # fmt: skip
    ),
)
def test_char_to_timestamp_inverts_timestamp_to_char(ms: int, fmt: str) -> None:
    text = F.timestamp_to_char(fmt, Timestamp(ms))
    assert F.char_to_timestamp(fmt, text) == Timestamp(ms)


def test_char_to_timestamp_kda_behaviour() -> None:
    # sql-reference-char-to-timestamp.html: missing fields default; out-of-range is no result
    assert F.char_to_timestamp("yyyy-MM", "2009-09") == parse_timestamp("2009-09-01")
    assert F.char_to_timestamp("yyyy-MM-dd HH:mm:ss", "2009-09-16 03:15:24") == parse_timestamp(
        "2009-09-16 03:15:24"
    )
    assert F.char_to_timestamp("yyyy-MM-dd'T'HH:mmX", "2009-09-16T03:15+02:00") == (
        parse_timestamp("2009-09-16 01:15:00")
    )
    assert errors(F.char_to_timestamp, "yyyy-MM-dd", "2009-02-30") == COERCION_ERROR
    assert errors(F.char_to_timestamp, "yyyy-MM-dd", "2009-13-01") == COERCION_ERROR
    assert errors(F.char_to_timestamp, "yyyy-MM-dd", "2009/01/01") == COERCION_ERROR
    assert errors(F.char_to_timestamp, "yyyy-QQ", "2009-01") == F.INVALID_ARGUMENT
    assert F.char_to_timestamp(None, "x") is None
    # sql-reference-timestamp-to-char.html: a NULL timestamp gives the string 'null'
    assert F.timestamp_to_char("yyyy", None) == "null"


# ---------------------------------------------------------------- CAST


def T(text: str) -> Any:
    return parse_type(text)


def test_cast_numbers_match_duckdb(oracle: Oracle) -> None:
    r = rng()
    dec = [Decimal(r.randint(-(10**7), 10**7)).scaleb(-3) for _ in range(N)]
    cols = {"x": ("DECIMAL(18,3)", dec)}
    # DECIMAL → INTEGER rounds half away from zero in DuckDB, as Shardline does
    assert [F.cast(x, T("INTEGER")) for x in dec] == oracle("CAST(x AS INTEGER)", cols)
    assert [F.cast(x, T("DECIMAL(12,2)")) for x in dec] == oracle("CAST(x AS DECIMAL(12,2))", cols)
    assert [F.cast(x, T("DOUBLE")) for x in dec] == oracle("CAST(x AS DOUBLE)", cols)
    texts = [f" {r.randint(-(10**6), 10**6)} " for _ in range(N)]
    tcols = {"s": ("VARCHAR", texts)}
    assert [F.cast(s, T("BIGINT")) for s in texts] == oracle("CAST(s AS BIGINT)", tcols)
    assert [F.cast(s, T("DOUBLE")) for s in texts] == oracle("CAST(s AS DOUBLE)", tcols)


def test_cast_double_to_integer_rounds_half_away_from_zero() -> None:
    # Shardline's choice (the KDA CAST page is silent): halves go away from zero, as for
    # DECIMAL. DuckDB rounds DOUBLE halves to even, so it is not the oracle here.
    got = [F.cast(x, T("INTEGER")) for x in (2.5, -2.5, 0.5, 1.4999, 3.5, -0.5)]
    assert got == [3, -3, 1, 1, 4, -1]
    assert errors(F.cast, 3e9, T("INTEGER")) == COERCION_ERROR
    assert errors(F.cast, math.nan, T("BIGINT")) == COERCION_ERROR
    assert errors(F.cast, "12x", T("INTEGER")) == COERCION_ERROR
    assert errors(F.cast, True, T("INTEGER")) == COERCION_ERROR
    assert F.cast(" 2.5 ", T("SMALLINT")) == 3


def test_cast_to_varchar() -> None:
    # strings are cut to the length (SQL truncation) …
    assert F.cast("abcdef", T("VARCHAR(3)")) == "abc"
    assert F.cast("ab", T("CHAR(4)")) == "ab  "
    # … other values must fit: KDA's CAST page shows CAST(DATE '2008-08-23' AS VARCHAR(9))
    # selecting no rows (sql-reference-cast.html)
    assert errors(F.cast, Date(parse_timestamp("2008-08-23")), T("VARCHAR(9)")) == COERCION_ERROR
    assert F.cast(Date(parse_timestamp("2008-08-23")), T("VARCHAR(10)")) == "2008-08-23"
    assert F.cast(parse_timestamp("2008-08-23 01:02:03.4"), T("VARCHAR")) == (
        "2008-08-23 01:02:03.400"
    )
    # numbers as Java prints them
    doubles = {1.0: "1.0", 1e10: "1.0E10", 0.001: "0.001", 1.0e-4: "1.0E-4", 123.45: "123.45",
               -2.5e7: "-2.5E7", 1234567.0: "1234567.0", 0.0: "0.0"}  # fmt: skip
    for x, text in doubles.items():
        assert F.cast(x, T("VARCHAR")) == text
    assert F.cast(Decimal("1E+3"), T("VARCHAR")) == "1000"
    assert F.cast(True, T("VARCHAR")) == "TRUE"
    assert F.cast(Interval(-90_061_001), T("VARCHAR")) == "-1 01:01:01.001"
    assert errors(F.cast, 12345, T("VARCHAR(3)")) == COERCION_ERROR


def test_cast_datetimes_match_duckdb(oracle: Oracle) -> None:
    r = rng()
    ts = [rand_ts(r) for _ in range(N)]
    cols = {"t": ("BIGINT", ts)}
    dates = oracle("epoch_ms(CAST(CAST(epoch_ms(t) AS DATE) AS TIMESTAMP))", cols)
    assert [F.cast(Timestamp(t), T("DATE")) for t in ts] == dates
    times = oracle("epoch_ms(DATE '1970-01-01' + CAST(epoch_ms(t) AS TIME))", cols)
    assert [F.cast(Timestamp(t), T("TIME")) for t in ts] == times
    texts = oracle("strftime(epoch_ms(t), '%Y-%m-%d %H:%M:%S.%g')", cols)
    assert [F.cast(s, T("TIMESTAMP")) for s in texts] == ts
    assert F.cast("10:15:30.5", T("TIME")) == Time(36_930_500)
    assert F.cast(" 1 02:03:04.5 ", T("INTERVAL")) == Interval(93_784_500)
    assert F.cast(Date(DAY), T("TIMESTAMP")) == Timestamp(DAY)
    assert errors(F.cast, Timestamp(0), T("INTEGER")) == COERCION_ERROR
    assert errors(F.cast, "2024-13-01", T("DATE")) == COERCION_ERROR


def test_cast_boolean_and_null() -> None:
    assert F.cast(" true ", T("BOOLEAN")) is True
    assert F.cast("FALSE", T("BOOLEAN")) is False
    assert F.cast("unknown", T("BOOLEAN")) is None
    assert errors(F.cast, "yes", T("BOOLEAN")) == COERCION_ERROR
    assert errors(F.cast, 1, T("BOOLEAN")) == COERCION_ERROR
    for target in ("INTEGER", "VARCHAR(2)", "TIMESTAMP", "BOOLEAN", "DECIMAL(5,2)"):
        assert F.cast(None, T(target)) is None


# ---------------------------------------------------------------- registry


def test_scalars_registry() -> None:
    required = {
        "UPPER", "LOWER", "INITCAP", "CHAR_LENGTH", "CHARACTER_LENGTH", "ABS", "CEIL",
        "CEILING", "POWER", "SQRT", "LN", "LOG10", "EXP", "ROUND", "COALESCE", "NULLIF",
        "REGEX_REPLACE", "TSDIFF", "CHAR_TO_TIMESTAMP", "TIMESTAMP_TO_CHAR", "MOD",
    }  # fmt: skip
    assert required <= set(F.SCALARS)
    for name, scalar in F.SCALARS.items():
        assert scalar.name == name and name.isupper()
        assert scalar.max_args is None or scalar.max_args >= scalar.min_args
    assert F.SCALARS["UPPER"].fn("ab") == "AB"
    assert F.SCALARS["COALESCE"].fn(None, None, 3) == 3
    assert str(F.SCALARS["CHAR_LENGTH"].returns([T("VARCHAR(4)")])) == "BIGINT"
    assert str(F.SCALARS["MOD"].returns([T("INTEGER"), T("DOUBLE")])) == "DOUBLE"
    assert str(F.SCALARS["ROUND"].returns([T("DECIMAL(8,2)"), T("INTEGER")])) == "DECIMAL(8,2)"
    assert F.SCALARS["COALESCE"].returns([None, T("INTEGER")]) == T("INTEGER")


def test_public_names_are_pinned() -> None:
    assert sorted(F.__all__) == F.__all__
    for name in F.__all__:
        assert hasattr(F, name), name


# ---------------------------------------------------------------- datetime conversions


@given(st.integers(-2_000_000_000_000, 4_000_000_000_000))
def test_unix_timestamp_and_to_timestamp_are_inverse(ms: int) -> None:
    # sql-reference-unix-timestamp.html, sql-reference-to-timestamp.html: epoch milliseconds
    assert F.unix_timestamp(Timestamp(ms)) == ms and type(F.unix_timestamp(Timestamp(ms))) is int
    assert F.to_timestamp(ms) == Timestamp(ms) and type(F.to_timestamp(ms)) is Timestamp
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)
    assert F.to_timestamp(ms).text() == moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def test_datetime_conversions_null_and_type_errors() -> None:
    for fn in (F.unix_timestamp, F.to_timestamp):
        assert fn(None) is None
    assert errors(F.unix_timestamp, 5) == COERCION_ERROR
    assert errors(F.to_timestamp, "5") == COERCION_ERROR
    assert F.char_to_date("yyyy", None) is None and F.date_to_char(None, Date(0)) is None
    assert F.time_to_char("HH", None) is None  # NULL, unlike TIMESTAMP_TO_CHAR's 'null'
    assert errors(F.date_to_char, "yyyy", Timestamp(0)) == COERCION_ERROR
    assert errors(F.time_to_char, "HH", Date(0)) == COERCION_ERROR


@given(st.integers(-2_000_000_000_000, 4_000_000_000_000))
def test_date_and_time_conversions_agree_with_datetime(ms: int) -> None:
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)
    text = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    day = F.char_to_date("yyyy-MM-dd HH:mm:ss.SSS", text)
    assert type(day) is Date and day.text() == moment.strftime("%Y-%m-%d")
    clock = F.char_to_time("yyyy-MM-dd HH:mm:ss.SSS", text)
    assert type(clock) is Time and clock.text() == text[11:]
    assert F.date_to_char("dd/MM/yyyy", day) == moment.strftime("%d/%m/%Y")
    assert F.time_to_char("HH:mm:ss.SSS", clock) == text[11:]
    assert F.time_to_char("yyyy-MM-dd", clock) == "1970-01-01"  # a TIME has no date


# ---------------------------------------------------------------- SUBSTRING by pattern


def test_substring_regex_is_the_first_match() -> None:
    # sql-reference-substring.html: "Only the first match is returned"
    r = rng()
    letters = "TECHNOLOGY ab12"
    texts = ["".join(r.choice(letters) for _ in range(r.randint(0, 20))) for _ in range(N)]
    for text in texts:
        for pattern in ("L[A-Z]*", "O[A-Z]", "[0-9]+", "FOO", "a|b"):
            found = re.search(pattern, text)
            assert F.substring_regex(text, pattern) == (found.group(0) if found else None)
    assert F.substring_regex(None, "x") is None and F.substring_regex("x", None) is None
    assert errors(F.substring_regex, "x", "(") == F.INVALID_ARGUMENT


def test_substring_similar_matches_postgres_semantics() -> None:
    # SQL:2008 SUBSTRING … SIMILAR … ESCAPE; PostgreSQL documents substring('Thomas' similar
    # '%#"o_a#"_' escape '#') = 'oma'; the first part matches as little as it can.
    assert F.substring_similar("Thomas", '%#"o_a#"_', "#") == "oma"
    assert F.substring_similar("Thomas", '%#"o_b#"_', "#") is None
    assert F.substring_similar("abcabc", '%#"b%#"', "#") == "bcabc"
    assert F.substring_similar("abcabc", '#"%#"c', "#") == "abcab"
    assert F.substring_similar(None, "a", "#") is None
    assert errors(F.substring_similar, "abc", "abc", "#") == F.INVALID_ARGUMENT
    assert errors(F.substring_similar, "abc", '#"a#"', "##") == F.INVALID_ARGUMENT
