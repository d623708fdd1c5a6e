import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.core import Batch
from connectors.s3 import (
    Prefix,
    compile_prefix,
    compile_prefixes,
    java_to_strftime,
    object_key,
    random_seed,
)
from ground.errors import ConfigError
from tests.unit.connectors.helpers import rec

TS = 1_795_381_507_000  # 2026-11-22T21:05:07Z
SEED = random_seed("ticks", "t", 2, 1234)


def render(text: str, ts: int = TS, **kwargs: object) -> str:
    dp = bool(kwargs.pop("dynamic_partitioning", False))
    field = str(kwargs.pop("field", "Prefix"))
    prefix = compile_prefix(text, field=field, dynamic_partitioning=dp)
    return prefix.render(ts, random_seed=SEED, **kwargs)  # type: ignore[arg-type]


def batch(start: int, ts: int = TS, partition: int = 2) -> Batch:
    return Batch.of([rec(start, partition=partition, ts=ts), rec(start + 1, partition=partition)])


def test_the_timestamp_is_2026_11_22_21_05_07() -> None:
    assert datetime.fromtimestamp(TS / 1000, tz=UTC) == datetime(2026, 11, 22, 21, 5, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "2026/11/22/21/"),
        ("raw/", "raw/2026/11/22/21/"),
        ("myFirehosePrefix", "myFirehosePrefix2026/11/22/21/"),
        ("!{timestamp:yyyy/MM/dd/HH}", "2026/11/22/21"),
        ("logs/!{timestamp:yyyy-MM-dd}/", "logs/2026-11-22/"),
        ("!{timestamp:'year='yyyy/'month='MM}/", "year=2026/month=11/"),
        ("!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/",
         "year=2026/month=11/day=22/hour=21/"),
        ("y=!{timestamp:yyyy}/m=!{timestamp:MM}/d=!{timestamp:dd}/h=!{timestamp:HH}/",
         "y=2026/m=11/d=22/h=21/"),
        ("!{timestamp:yy.M.d H:m:s mm ss}", "26.11.22 21:5:7 05 07"),
        ("!{timestamp:HH'h'mm''ss}", "21h05'07"),
        ("!{timestamp:'it''s' yyyy}", "it's 2026"),
        ("a%b/!{timestamp:'50%' yyyy}/", "a%b/50% 2026/"),
        ("braces } and ! and { stay/", "braces } and ! and { stay/2026/11/22/21/"),
    ],
)
def test_prefix_evaluates_like_firehose(text: str, expected: str) -> None:
    assert render(text) == expected


def test_single_letters_are_not_padded_and_double_letters_are() -> None:
    ts = int(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp() * 1000)
    assert render("!{timestamp:y-M-d H:m:s}", ts) == "2026-3-4 5:6:7"
    assert render("!{timestamp:yy-MM-dd HH:mm:ss}", ts) == "26-03-04 05:06:07"


def test_plain_prefix_gives_exactly_the_old_keys() -> None:
    b = Batch.of([rec(1234, partition=2, ts=1_700_000_000_000)])
    assert object_key("raw/", "ticks", b, ".jsonl.gz") == (
        "raw/2023/11/14/22/ticks-t+2+00000000000000001234.jsonl.gz"
    )
    assert object_key(compile_prefix("raw/"), "ticks", b, ".jsonl.gz") == (
        "raw/2023/11/14/22/ticks-t+2+00000000000000001234.jsonl.gz"
    )


def test_negative_timestamps_clamp_to_the_epoch() -> None:
    assert render("", -5) == "1970/01/01/00/"


def test_timestamp_is_the_first_records_not_the_wall_clock() -> None:
    b = Batch.of([rec(7, ts=TS), rec(8, ts=TS + 10 * 3_600_000)])
    assert object_key("p/", "s", b, ".x") == "p/2026/11/22/21/s-t+0+00000000000000000007.x"


# random-string ---------------------------------------------------------------------------

RANDOM = re.compile(r"[a-z0-9]{11}")


def test_random_string_is_11_chars_from_a_z_0_9_and_stable() -> None:
    value = render("!{firehose:random-string}")
    assert RANDOM.fullmatch(value.removesuffix("2026/11/22/21/")), value
    assert value == render("!{firehose:random-string}")


def test_each_random_string_in_one_prefix_differs() -> None:
    a, b = render("!{firehose:random-string}/!{firehose:random-string}/").split("/")[:2]
    assert RANDOM.fullmatch(a) and RANDOM.fullmatch(b) and a != b


def test_replay_of_the_same_batch_gets_the_same_key() -> None:
    prefix = compile_prefixes(
        "r=!{firehose:random-string}/!{timestamp:yyyy}/",
        "err/!{firehose:error-output-type}/",
    ).prefix
    first = object_key(prefix, "ticks", batch(1234), ".jsonl")
    again = object_key(prefix, "ticks", batch(1234), ".jsonl")
    assert first == again
    assert re.fullmatch(r"r=[a-z0-9]{11}/2026/ticks-t\+2\+00000000000000001234\.jsonl", first)


@pytest.mark.parametrize(
    "other",
    [("ticks", "t", 2, 1235), ("ticks", "t", 3, 1234), ("ticks", "u", 2, 1234),
     ("trades", "t", 2, 1234)],
)
def test_random_string_depends_on_stream_topic_partition_and_start_offset(
    other: tuple[str, str, int, int],
) -> None:
    prefix = compile_prefix("!{firehose:random-string}/")
    assert prefix.render(TS, random_seed=SEED) != prefix.render(TS, random_seed=random_seed(*other))


def test_different_start_offset_different_random_string_in_the_key() -> None:
    prefix = compile_prefixes("!{firehose:random-string}/", "e/!{firehose:error-output-type}/")
    a = object_key(prefix.prefix, "ticks", batch(1234), "").split("/")[0]
    b = object_key(prefix.prefix, "ticks", batch(1236), "").split("/")[0]
    assert RANDOM.fullmatch(a) and RANDOM.fullmatch(b) and a != b


def test_random_seed_is_unambiguous() -> None:
    assert random_seed("ab", "c", 1, 2) != random_seed("a", "bc", 1, 2)
    assert random_seed("s", "t", 1, 23) != random_seed("s", "t", 12, 3)


# error output ----------------------------------------------------------------------------


def test_error_output_prefix_with_expressions_is_used_as_written() -> None:
    pair = compile_prefixes(
        "myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/",
        "myFirehoseFailures/!{firehose:error-output-type}/!{timestamp:yyyy}/anyMonth/"
        "!{timestamp:dd}",
    )
    assert pair.prefix.render(TS, random_seed=SEED) == "myFirehose/DeliveredYear=2026/anyMonth/"
    assert pair.error_output_prefix.render(
        TS, random_seed=SEED, error_output_type="processing-failed"
    ) == "myFirehoseFailures/processing-failed/2026/anyMonth/22"


def test_error_output_type_in_error_prefix_without_timestamp_gets_no_default() -> None:
    assert render("myFirehoseFailures/!{firehose:error-output-type}/", field="ErrorOutputPrefix",
                  error_output_type="format-conversion-failed") == (
        "myFirehoseFailures/format-conversion-failed/"
    )


def test_empty_error_output_prefix_derives_from_prefix() -> None:
    pair = compile_prefixes("myFirehosePrefix/", None)
    assert pair.error_output_prefix.render(
        TS, random_seed=SEED, error_output_type="processing-failed"
    ) == "myFirehosePrefix/processing-failed/2026/11/22/21/"
    assert compile_prefixes("", "").error_output_prefix.render(
        TS, random_seed=SEED, error_output_type="s3-failed"
    ) == "s3-failed/2026/11/22/21/"


def test_plain_error_output_prefix_gets_type_and_date_like_before() -> None:
    # connectors/build.py used to write failures under <error prefix>s3-failed/<yyyy/MM/dd/HH/>
    b = Batch.of([rec(1234, partition=2, ts=1_700_000_000_000)])
    error = compile_prefixes("raw/", "errors/").error_output_prefix
    assert object_key(error, "ticks", b, ".jsonl.gz", error_output_type="s3-failed") == (
        object_key("errors/s3-failed/", "ticks", b, ".jsonl.gz")
    )


# dynamic partitioning ----------------------------------------------------------------------


def test_partition_keys_from_query_and_lambda() -> None:
    pair = compile_prefixes(
        "customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromLambda:device}/",
        "errors/!{firehose:error-output-type}/",
        dynamic_partitioning=True,
    )
    assert pair.prefix.partition_keys == (
        ("partitionKeyFromQuery", "customer_id"), ("partitionKeyFromLambda", "device")
    )
    # no default yyyy/MM/dd/HH/ with dynamic partitioning
    assert pair.prefix.render(
        TS, random_seed=SEED, partition_keys={"customer_id": "1234", "device": "mobile"}
    ) == "customer_id=1234/device=mobile/"


def test_partition_keys_and_timestamp_together() -> None:
    assert render("prefix/!{timestamp:yyyy}-!{timestamp:MM}-!{timestamp:dd}/"
                  "!{partitionKeyFromQuery:customer_id}/", dynamic_partitioning=True,
                  partition_keys={"customer_id": "customer-1234"}) == (
        "prefix/2026-11-22/customer-1234/"
    )


# invalid ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("a/!{timestamp:yyyy", "Prefix", "no closing"),
        ("a/!{timestamp:yyyy/!{timestamp:MM}", "Prefix", "no closing"),
        ("!{", "Prefix", "no closing"),
        ("!{timestamp}", "Prefix", "namespace:value"),
        ("!{timestamp:}", "Prefix", "namespace:value"),
        ("!{:yyyy}", "Prefix", "unknown namespace"),
        ("!{time:yyyy}", "Prefix", "unknown namespace"),
        ("!{Timestamp:yyyy}", "Prefix", "unknown namespace"),
        ("!{firehose:uuid}", "Prefix", "unknown firehose value"),
        ("!{firehose:error-output-type}/", "Prefix", "only allowed in ErrorOutputPrefix"),
        ("!{partitionKeyFromQuery:id}/", "Prefix", "dynamic partitioning"),
        ("!{partitionKeyFromLambda:id}/", "Prefix", "dynamic partitioning"),
        ("!{timestamp:EEE}", "Prefix", "not supported"),
        ("!{timestamp:MMM}", "Prefix", "not supported"),
        ("!{timestamp:ddd}", "Prefix", "not supported"),
        ("!{timestamp:yyyyy}", "Prefix", "not supported"),
        ("!{timestamp:hh}", "Prefix", "not supported"),
        ("!{timestamp:SSS}", "Prefix", "not supported"),
        ("!{timestamp:[yyyy]}", "Prefix", "not supported"),
        ("!{timestamp:yyyy#}", "Prefix", "not supported"),
        ("!{timestamp:'year=yyyy}", "Prefix", "unterminated quote"),
        ("x" * 1025, "Prefix", "over 1024"),
        ("errors/!{timestamp:yyyy}/", "ErrorOutputPrefix", "must contain"),
        ("errors/!{firehose:random-string}/", "ErrorOutputPrefix", "must contain"),
        ("e/!{firehose:error-output-type}/!{partitionKeyFromQuery:id}/", "ErrorOutputPrefix",
         "can't be used in ErrorOutputPrefix"),
        ("e/!{firehose:error-output-type", "ErrorOutputPrefix", "no closing"),
        ("e/!{firehose:error-output-type}/!{timestamp:QQ}", "ErrorOutputPrefix", "not supported"),
        ("e" * 1025, "ErrorOutputPrefix", "over 1024"),
    ],
)
def test_invalid_prefix_raises_config_error_naming_the_field(
    text: str, field: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        compile_prefix(text, field=field)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_1024_characters_is_still_valid() -> None:
    assert compile_prefix("x" * 1024).text == "x" * 1024


@pytest.mark.parametrize(
    ("prefix", "error", "dp", "field", "message"),
    [
        ("!{timestamp:yyyy/MM/dd}", None, False, "ErrorOutputPrefix",
         "can't be empty when Prefix contains expressions"),
        ("r/!{firehose:random-string}/", "", False, "ErrorOutputPrefix", "can't be empty"),
        ("k=!{partitionKeyFromQuery:k}/", None, True, "ErrorOutputPrefix", "required"),
        ("", "e/!{firehose:error-output-type}/", True, "Prefix", "required"),
        ("!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}/", False, "Prefix",
         "dynamic partitioning"),
        ("ok/", "!{firehose:error-output-type", False, "ErrorOutputPrefix", "no closing"),
    ],
)
def test_invalid_combinations(
    prefix: str, error: str | None, dp: bool, field: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        compile_prefixes(prefix, error, dynamic_partitioning=dp)
    assert info.value.field == field


def test_render_needs_the_values_the_prefix_uses() -> None:
    error = compile_prefix("e/!{firehose:error-output-type}/", field="ErrorOutputPrefix")
    with pytest.raises(ConfigError, match="error_output_type") as info:
        error.render(TS, random_seed=SEED)
    assert info.value.field == "ErrorOutputPrefix"
    keyed = compile_prefix("k=!{partitionKeyFromQuery:k}/", dynamic_partitioning=True)
    with pytest.raises(ConfigError, match="no value for partition key 'k'"):
        keyed.render(TS, random_seed=SEED, partition_keys={"other": "x"})
    with pytest.raises(ConfigError, match="over 1024") as info:
        keyed.render(TS, random_seed=SEED, partition_keys={"k": "v" * 1100})
    assert info.value.field == "Prefix"


def test_compiled_prefix_is_frozen() -> None:
    prefix = compile_prefix("raw/")
    assert isinstance(prefix, Prefix)
    with pytest.raises(AttributeError):
        prefix.text = "other/"  # type: ignore[misc]


# property: Java pattern == Python datetime fields ------------------------------------------

_FIELDS = {
    "yyyy": lambda d: f"{d.year:04d}", "y": lambda d: str(d.year),
    "yy": lambda d: f"{d.year % 100:02d}",
    "MM": lambda d: f"{d.month:02d}", "M": lambda d: str(d.month),
    "dd": lambda d: f"{d.day:02d}", "d": lambda d: str(d.day),
    "HH": lambda d: f"{d.hour:02d}", "H": lambda d: str(d.hour),
    "mm": lambda d: f"{d.minute:02d}", "m": lambda d: str(d.minute),
    "ss": lambda d: f"{d.second:02d}", "s": lambda d: str(d.second),
}
_SEPARATORS = st.sampled_from(["/", "-", "_", ".", ":", " ", "=", "%", ",", "''"])
# Java can't quote empty text ('' is one quote), and two quoted runs side by side are one.
_QUOTED = st.text(st.characters(codec="ascii", exclude_characters="\x00"), min_size=1, max_size=6)


@st.composite
def java_pattern(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(kind, text) tokens: 'field' letters, a 'sep', or a 'quoted' literal; never two runs
    of the same letter, nor two quoted literals, side by side (Java would read them as one)."""
    tokens: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["field", "field", "sep", "quoted"]))
        if kind == "field":
            letters = draw(st.sampled_from(sorted(_FIELDS)))
            if tokens and tokens[-1][0] == "field" and tokens[-1][1][0] == letters[0]:
                tokens.append(("sep", "/"))
            tokens.append(("field", letters))
        elif kind == "sep":
            sep = draw(_SEPARATORS)
            if sep == "''" and tokens and tokens[-1][0] == "quoted" or (
                sep == "''" and tokens and tokens[-1] == ("sep", sep)
            ):
                # 'a' '' 'b' side by side reads as a''b; two '' side by side, as Java reads
                # '''', are one quote
                tokens.append(("sep", "/"))
            tokens.append(("sep", sep))
        else:
            if tokens and tokens[-1][0] == "quoted":
                tokens.append(("sep", "/"))
            tokens.append(("quoted", draw(_QUOTED)))
    return tokens


@settings(max_examples=500)
@given(
    java_pattern(),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
)
def test_java_pattern_renders_like_python_datetime_fields(
    tokens: list[tuple[str, str]], when: datetime
) -> None:
    when = when.replace(tzinfo=UTC, microsecond=0)
    pattern, expected = "", ""
    for kind, text in tokens:
        if kind == "field":
            pattern += text
            expected += _FIELDS[text](when)
        elif kind == "sep":
            pattern += text
            expected += "'" if text == "''" else text
        else:
            pattern += "'" + text.replace("'", "''") + "'"
            expected += text
    ts = int(when.timestamp()) * 1000
    assert when.strftime(java_to_strftime(pattern)) == expected
    if "}" not in pattern and "!{" not in pattern:
        assert render(f"!{{timestamp:{pattern}}}", ts) == expected
