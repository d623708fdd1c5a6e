"""Java .properties files read as java.util.Properties.load reads them."""

from __future__ import annotations

import pytest

from ground.errors import ConfigError
from ground.java_properties import parse_properties


def props(text: str) -> dict[str, str]:
    return {p.key: p.value for p in parse_properties(text, "client.properties")}


def test_the_three_separators_and_blanks_around_them() -> None:
    assert props("a=1\nb: 2\nc 3\n  d  =  4  \ne\t:\t5\n") == {
        "a": "1", "b": "2", "c": "3", "d": "4  ", "e": "5"}


def test_comments_blank_lines_and_empty_values() -> None:
    text = "# a comment\n! another\n\n   \nkey=\nonly\n  # indented comment\n"
    assert props(text) == {"key": "", "only": ""}


def test_continuation_lines_drop_their_leading_blanks() -> None:
    text = ("sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n"
            "    required \\\n"
            "    username=\"u\";\n"
            "next=1\n")
    got = props(text)
    assert got["sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="u";')
    assert got["next"] == "1"


def test_an_even_number_of_backslashes_does_not_continue() -> None:
    assert props("path=C:\\\\dir\\\\\nnext=2") == {"path": "C:\\dir\\", "next": "2"}


def test_a_comment_line_never_continues() -> None:
    assert props("# comment \\\nkey=value") == {"key": "value"}


def test_escapes_in_keys_and_values() -> None:
    got = props("a\\=b\\:c=x\\ty\\u00e9\\n\nwith\\ space = v\\=w\n")
    assert got == {"a=b:c": "x\tyé\n", "with space": "v=w"}


def test_line_numbers_and_later_duplicates() -> None:
    lines = parse_properties("a=1\n\n# c\nb=2\na=3\n", "f")
    assert [(p.key, p.value, p.line) for p in lines] == [("a", "1", 1), ("b", "2", 4),
                                                         ("a", "3", 5)]
    assert props("a=1\na=3") == {"a": "3"}


def test_crlf_and_cr_newlines() -> None:
    assert props("a=1\r\nb=2\rc=3") == {"a": "1", "b": "2", "c": "3"}


def test_a_malformed_unicode_escape_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_properties("ok=1\nbad=\\u12G4\n", "client.properties")
    assert info.value.field == "client.properties:2"
