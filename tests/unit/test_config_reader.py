"""The config document loader and readers: every error names its field or file."""

from enum import StrEnum
from pathlib import Path

import pytest

from ground import config_reader
from ground.config_reader import MappingReader, TypedReader, describe, load_document
from ground.errors import ConfigError


class Color(StrEnum):
    RED = "RED"
    BLUE = "BLUE"


def _error(call) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        call()
    return caught.value


def test_public_names_are_sorted() -> None:
    assert config_reader.__all__ == sorted(config_reader.__all__)


def test_a_reader_needs_a_mapping() -> None:
    assert describe(None) == "nothing" and describe([1]) == "list"
    err = _error(lambda: MappingReader(None, "Inputs[0]"))
    assert (err.field, err.message) == ("Inputs[0]", "expected a mapping, got nothing")
    err = _error(lambda: TypedReader([1], ""))
    assert (err.field, err.message) == ("<root>", "expected a mapping, got list")


def test_unknown_keys_are_listed_with_the_known_ones() -> None:
    reader = TypedReader({"A": 1, "Bee": 2}, "S")
    reader.check_keys(("A", "Bee"))
    err = _error(lambda: reader.check_keys(("A", "B")))
    assert (err.field, err.message) == ("S.Bee", "unknown setting; known: A, B")
    reader.get("A")
    err = _error(reader.done)
    assert (err.field, err.message) == ("S.Bee", "unknown setting")


def test_strings() -> None:
    reader = TypedReader({"s": "x", "n": 3, "z": None}, "")
    assert reader.string("s") == "x"
    assert reader.string("z", "default") == "default"
    assert _error(lambda: reader.string("missing")).message == "is required"
    err = _error(lambda: reader.string("n"))
    assert (err.field, err.message) == ("n", "expected a string, got int")


def test_integers() -> None:
    reader = TypedReader({"n": 3, "b": True, "s": "3"}, "Runtime")
    assert reader.integer("n", 0, None) == 3
    assert reader.integer("missing", 0, None, 7) == 7
    assert reader.integer("missing", 0, None) is None
    assert _error(lambda: reader.integer("b", 0, None)).message == "expected an integer, got True"
    assert _error(lambda: reader.integer("s", 0, None)).message == "expected an integer, got '3'"
    err = _error(lambda: reader.integer("n", 4, None, 0))
    assert (err.field, err.message) == ("Runtime.n", "must be at least 4, got 3")
    err = _error(lambda: reader.integer("n", 0, 2))
    assert err.message == "must be between 0 and 2, got 3"


def test_choices_ignore_case() -> None:
    reader = TypedReader({"c": "blue", "bad": "green", "n": 1}, "")
    assert reader.choice("c", Color) is Color.BLUE
    assert reader.choice("missing", Color, Color.RED) is Color.RED
    err = _error(lambda: reader.choice("missing", Color))
    assert err.message == "is required: one of RED | BLUE"
    assert _error(lambda: reader.choice("bad", Color)).message == "one of RED | BLUE, got 'green'"
    assert _error(lambda: reader.choice("n", Color)).message == "one of RED | BLUE, got 1"


def test_sections_and_items_carry_their_path() -> None:
    reader = TypedReader({"S": {"k": "v"}, "L": [{"a": 1}, {"a": 2}], "bad": {"x": 1}}, "Top")
    assert reader.section("S").string("k") == "v"
    assert reader.section("absent").data == {}
    err = _error(lambda: reader.section("absent", required=True))
    assert (err.field, err.message) == ("Top.absent", "is required")
    assert [i.path for i in reader.items("L")] == ["Top.L[0]", "Top.L[1]"]
    assert reader.items("absent") == []
    assert _error(lambda: reader.items("absent", required=True)).message == "is required: a list"
    err = _error(lambda: reader.items("bad"))
    assert (err.field, err.message) == ("Top.bad", "expected a list, got dict")
    err = _error(lambda: TypedReader({"L": [None]}, "").items("L"))
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
    err = _error(lambda: load_document(path))
    assert err.field == str(path)
    assert err.message.startswith(message)


def test_documents_load_by_suffix(tmp_path: Path) -> None:
    for name, text in (("a.yaml", "a: 1"), ("a.json", '{"a": 1}'), ("a.toml", "a = 1")):
        (tmp_path / name).write_text(text)
        assert load_document(tmp_path / name) == {"a": 1}
    err = _error(lambda: load_document(tmp_path / "missing.yaml"))
    assert err.message.startswith("cannot read")
