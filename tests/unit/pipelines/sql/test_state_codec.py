"""The one JSON form of SQL values in state: exact scalars, tagged containers, and
accumulator snapshots that come back through the changelog as they went in."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal
from typing import Any

import orjson
import pytest

from pipelines.sql import state_codec as codec
from pipelines.sql.aggregates import AGGREGATES
from pipelines.sql.merging import merge_into
from pipelines.sql.sketches import CountDistinctItems, TopKItems
from pipelines.sql.types import Date, Interval, Time, Timestamp

VALUES: list[Any] = [
    None,
    True,
    "text",
    "$ts",
    7,
    -(2**63),
    2**63 - 1,
    2**70,
    -(2**64),
    1.5,
    math.inf,
    -math.inf,
    Decimal("12.50"),
    b"\x00\xff",
    Timestamp(1_700_000_000_123),
    Date(86_400_000),
    Time(3_600_000),
    Interval(-5),
]


def test_public_names_are_sorted() -> None:
    assert codec.__all__ == sorted(codec.__all__)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_each_value_comes_back_with_its_class(value: Any) -> None:
    encoded = codec.encode_value(value)
    back = codec.decode_value(orjson.loads(orjson.dumps(encoded)))
    assert back == value and type(back) is type(value)
    assert codec.decode_value(codec.loads(orjson.dumps(encoded))) == value
    nan = codec.decode_value(orjson.loads(orjson.dumps(codec.encode_value(math.nan))))
    assert math.isnan(nan)


def test_containers_are_tagged_throughout_and_lists_come_back_as_tuples() -> None:
    value = (Timestamp(5), ["a", (Decimal("1.5"), None)], {"k": Date(0), "n": 2**70})
    data = codec.dumps(value)
    assert data == orjson.dumps(codec.tag(value))
    assert data == (
        b'[["$ts",5],["a",[["$dec","1.5"],null]],'
        b'{"k":["$d",0],"n":["$int","1180591620717411303424"]}]'
    )
    back = (Timestamp(5), ("a", (Decimal("1.5"), None)), {"k": Date(0), "n": 2**70})
    assert codec.loads(data) == back
    assert type(codec.loads(data)[0]) is Timestamp


def test_unknown_values_are_refused() -> None:
    with pytest.raises(TypeError):
        codec.encode_value(object())
    with pytest.raises(ValueError):
        codec.decode_value(["$nope", 1])


SNAPSHOTS = [
    ("MIN", [Timestamp(5), Timestamp(3)]),
    ("MAX", [Date(0), Date(86_400_000)]),
    ("SUM", [Decimal("1.25"), Decimal("2")]),
    ("SUM", [Interval(5), Interval(7)]),
    ("SUM", [1.0, math.inf]),
    ("SUM", [2**62, 2**62, 2**62]),
    ("FIRST_VALUE", [Time(5), None]),
    ("COUNT_DISTINCT", [b"a", b"b", b"a"]),
    ("VAR_POP", [1.0, 2.0, 4.0]),
    ("SUM_DISTINCT", [Decimal("1.25"), Decimal("2"), Decimal("1.25")]),
    ("AVG_DISTINCT", [Decimal("1.25"), Decimal("2"), Decimal("1.25"), None]),
    ("AVG_DISTINCT", [Interval(5), Interval(8), Interval(5)]),
    ("STDDEV_SAMP_DISTINCT", [1.5, 2.25, 1.5, 9.0]),
    ("VAR_POP_DISTINCT", [2**70, 3, 2**70]),
]


def test_a_distinct_partial_survives_the_changelog_and_merges_exactly() -> None:
    """A DISTINCT aggregate's partial (the state a partition sends across a repartition, or
    writes to its changelog) is its set of values with their counts: restored from the
    changelog and merged with another partition's, the result is that of all the rows in
    one accumulator, to the last bit, and removing rows later still works."""
    spec = AGGREGATES["STDDEV_POP_DISTINCT"]
    rows = [round(i * 7919 % 263 / 7, 2) for i in range(400)]  # 263 values, some twice
    whole, left, right = spec.create(), spec.create(), spec.create()
    for i, v in enumerate(rows):  # the partitions share rows 200-239
        if i < 240:
            left.add(v)
            whole.add(v)
        if i >= 200:
            right.add(v)
            whole.add(v)
    left = spec.restore(codec.loads(codec.dumps([left.state()]))[0])
    right = spec.restore(codec.loads(codec.dumps([right.state()]))[0])
    assert left.result() != whole.result()
    merge_into(left, right)
    assert left.result() == whole.result()
    assert sorted(map(repr, left.state())) == sorted(map(repr, whole.state()))
    for v in rows[:300]:
        left.remove(v)
        whole.remove(v)
    assert left.result() == whole.result()
    left_over = set(rows[200:240] + rows[300:])
    assert math.isclose(left.result(), statistics.pstdev(left_over), rel_tol=1e-12)


@pytest.mark.parametrize(("name", "values"), SNAPSHOTS, ids=[f"{n}-{v[0]!r}" for n, v in SNAPSHOTS])
def test_accumulator_snapshots_survive_the_changelog(name: str, values: list[Any]) -> None:
    """A snapshot goes to the changelog inside the state ``codec.dumps`` writes and comes
    back through ``codec.loads``: the restored accumulator gives the same result, of the same
    class (MIN of TIMESTAMPs came back as a tuple while snapshots had a vocabulary of their
    own)."""
    spec = AGGREGATES[name]
    acc = spec.create()
    for v in values:
        acc.add(v)
    state = codec.loads(codec.dumps([acc.state(), "other state"]))[0]
    restored = spec.restore(state)
    assert restored.result() == acc.result()
    assert type(restored.result()) is type(acc.result())


def test_sketch_snapshots_survive_the_changelog() -> None:
    top = TopKItems(2)
    distinct = CountDistinctItems()
    for item in [Timestamp(1), Timestamp(1), Timestamp(2), Decimal("3")]:
        top.add(item)
        distinct.add(item)
    top_back = TopKItems.restore(codec.loads(codec.dumps(top.state())))
    assert top_back.result() == top.result()
    assert type(top_back.result()[0][0]) is Timestamp
    distinct_back = CountDistinctItems.restore(codec.loads(codec.dumps(distinct.state())))
    distinct_back.add(Timestamp(2))
    assert distinct_back.result() == 3
