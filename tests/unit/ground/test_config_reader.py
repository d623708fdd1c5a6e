"""The config readers and the document loader: typed getters whose errors name the field or
file, and refusing keys nobody read or nobody knows."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import pytest

from ground import config_reader
from ground.config_reader import MappingReader, TypedReader, describe, load_document
from ground.errors import ConfigError


class Color(StrEnum):
    RED = "RED"
    Blue = "Blue"


def error(call) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        call()
    return info.value


class Shade(StrEnum):
    RED = "RED"
    BLUE = "BLUE"


def test_integer_bounds_and_defaults() -> None:
    r = MappingReader({"n": 5, "b": True, "s": "5"}, "x")
    assert r.integer("n", 1, 10) == 5 and r.integer("absent", 1, 10, 7) == 7
    assert r.integer("absent", 1, None) is None
    assert str(error(lambda: r.integer("n", 6, None))) == "x.n: must be at least 6, got 5"
    assert str(error(lambda: r.integer("n", 1, 4))) == "x.n: must be between 1 and 4, got 5"
    assert str(error(lambda: r.integer("b", 0, 1))) == "x.b: expected an integer, got True"
    assert str(error(lambda: r.integer("s", 0, 9))) == "x.s: expected an integer, got '5'"


def test_enum_by_value_optionally_upper_cased() -> None:
    r = MappingReader({"a": "red", "b": "Blue", "c": 3}, "")
    assert r.enum("a", Color, Color.Blue, upper=True) is Color.RED
    assert r.enum("b", Color, Color.RED) is Color.Blue
    assert r.enum("absent", Color, Color.Blue) is Color.Blue
    assert str(error(lambda: r.enum("a", Color, Color.RED))) == "a: one of RED, Blue, got 'red'"
    assert str(error(lambda: r.enum("c", Color, Color.RED))) == "c: expected a string, got 3"


def test_alias_one_setting_under_two_names() -> None:
    r = MappingReader({"size_mb": 1, "SizeInMBs": None}, "b")
    assert r.alias("size_mb", "SizeInMBs") == "size_mb"
    assert r.alias("nope", "neither") is None
    r.get("size_mb")
    r.done()  # SizeInMBs: null reads as absent, and counts as read
    both = MappingReader({"x": 1, "y": 2}, "b")
    assert str(error(lambda: both.alias("x", "y"))) == "b.y: set only one of x, y"


def test_public_names_are_sorted() -> None:
    assert config_reader.__all__ == sorted(config_reader.__all__)


def test_a_reader_needs_a_mapping() -> None:
    assert describe(None) == "nothing" and describe([1]) == "list"
    err = error(lambda: MappingReader(None, "Inputs[0]"))
    assert (err.field, err.message) == ("Inputs[0]", "expected a mapping, got nothing")
    err = error(lambda: TypedReader([1], ""))
    assert (err.field, err.message) == ("<root>", "expected a mapping, got list")


def test_unknown_keys_are_listed_with_the_known_ones() -> None:
    reader = TypedReader({"A": 1, "Bee": 2}, "S")
    reader.check_keys(("A", "Bee"))
    err = error(lambda: reader.check_keys(("A", "B")))
    assert (err.field, err.message) == ("S.Bee", "unknown setting; known: A, B")
    reader.get("A")
    err = error(reader.done)
    assert (err.field, err.message) == ("S.Bee", "unknown setting")


def test_strings() -> None:
    reader = TypedReader({"s": "x", "n": 3, "z": None}, "")
    assert reader.string("s") == "x"
    assert reader.string("z", "default") == "default"
    assert error(lambda: reader.string("missing")).message == "is required"
    err = error(lambda: reader.string("n"))
    assert (err.field, err.message) == ("n", "expected a string, got int")


def test_choices_ignore_case() -> None:
    reader = TypedReader({"c": "blue", "bad": "green", "n": 1}, "")
    assert reader.choice("c", Shade) is Shade.BLUE
    assert reader.choice("missing", Shade, Shade.RED) is Shade.RED
    err = error(lambda: reader.choice("missing", Shade))
    assert err.message == "is required: one of RED | BLUE"
    assert error(lambda: reader.choice("bad", Shade)).message == "one of RED | BLUE, got 'green'"
    assert error(lambda: reader.choice("n", Shade)).message == "one of RED | BLUE, got 1"


def test_sections_and_items_carry_their_path() -> None:
    reader = TypedReader({"S": {"k": "v"}, "L": [{"a": 1}, {"a": 2}], "bad": {"x": 1}}, "Top")
    assert reader.section("S").string("k") == "v"
    assert reader.section("absent").data == {}
    err = error(lambda: reader.section("absent", required=True))
    assert (err.field, err.message) == ("Top.absent", "is required")
    assert [i.path for i in reader.items("L")] == ["Top.L[0]", "Top.L[1]"]
    assert reader.items("absent") == []
    assert error(lambda: reader.items("absent", required=True)).message == "is required: a list"
    err = error(lambda: reader.items("bad"))
    assert (err.field, err.message) == ("Top.bad", "expected a list, got dict")
    err = error(lambda: TypedReader({"L": [None]}, "").items("L"))
    assert (err.field, err.message) == ("L[0]", "expected a mapping, got nothing")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.yaml", b"a: [", "not valid YAML"),
        ("a.yml", b"a: [", "not valid YAML"),
        ("a.json", b"{", "not valid JSON"),
        ("a.toml", b"a = ", "not valid TOML"),
        ("a.yaml", b"a: \xff\xfe", "not valid YAML: 'utf-8' codec can't decode"),
        ("a.json", b'{"a": "\xff"}', "not valid JSON: 'utf-8' codec can't decode"),
    ],
)
def test_documents_that_do_not_parse_name_the_file(
    tmp_path: Path, name: str, text: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(text)
    err = error(lambda: load_document(path))
    assert err.field == str(path)
    assert err.message.startswith(message)


def test_documents_load_by_suffix(tmp_path: Path) -> None:
    for name, text in (("a.yaml", "a: 1"), ("a.json", '{"a": 1}'), ("a.toml", "a = 1")):
        (tmp_path / name).write_text(text)
        assert load_document(tmp_path / name) == {"a": 1}
    err = error(lambda: load_document(tmp_path / "missing.yaml"))
    assert err.message.startswith("cannot read")
