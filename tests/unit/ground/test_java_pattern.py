"""The shared Java date-pattern tokenizer (Firehose prefixes and KDA's TIMESTAMP_TO_CHAR)."""

from __future__ import annotations

import pytest

from ground.java_pattern import PatternError, tokenize


@pytest.mark.parametrize(
    ("pattern", "tokens"),
    [
        ("yyyy/MM/dd", (("y", 4), ("", "/"), ("M", 2), ("", "/"), ("d", 2))),
        ("HH'h'mm", (("H", 2), ("'", "h"), ("m", 2))),
        ("''", (("'", "'"),)),
        ("''''", (("'", "'"),)),  # Java: a quoted literal holding one escaped quote
        ("'it''s'", (("'", "it's"),)),
        ("'a-b'-", (("'", "a-b"), ("", "-"))),
        ("ÿy", (("", "ÿ"), ("y", 1))),  # non-ASCII letters are literals
        ("", ()),
    ],
)
def test_tokens(pattern: str, tokens: tuple[object, ...]) -> None:
    assert tokenize(pattern) == tokens


def test_unterminated_quote_is_refused() -> None:
    with pytest.raises(PatternError, match="unterminated quote"):
        tokenize("yyyy'abc")
