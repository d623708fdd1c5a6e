"""The one mapping reader: typed getters whose errors name the field, and refusing keys nobody
read."""

from __future__ import annotations

from enum import StrEnum

import pytest

from ground.config_reader import MappingReader
from ground.errors import ConfigError


class Color(StrEnum):
    RED = "RED"
    Blue = "Blue"


def error(call) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        call()
    return info.value


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
