"""The aggregates by SQL name: how to create and restore each one, and its result type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pipelines.sql.aggregates.base import Accumulator
from pipelines.sql.aggregates.boolean import BoolAny, BoolEvery
from pipelines.sql.aggregates.counts import Count, CountDistinct, SumDistinct
from pipelines.sql.aggregates.distinct import OverDistinct
from pipelines.sql.aggregates.extremes import AddOnlyMax, AddOnlyMin, Max, Min
from pipelines.sql.aggregates.positional import FirstValue, LastValue
from pipelines.sql.aggregates.sums import Avg, Sum
from pipelines.sql.aggregates.variance import StddevPop, StddevSamp, VarPop, VarSamp
from pipelines.sql.types import SqlType, TypeKind
from pipelines.sql.types.kinds import BIGINT, BOOLEAN, DOUBLE

__all__ = ["ADD_ONLY", "AGGREGATES", "DISTINCT_SUFFIX", "AggregateSpec"]

#: ``AGG(DISTINCT x)`` is the aggregate named ``AGG`` + this (``AVG_DISTINCT``).
DISTINCT_SUFFIX = "_DISTINCT"

#: an aggregate's result type from its argument's (``None``: unknown)
ResultRule = Callable[[SqlType | None], SqlType | None]


@dataclass(frozen=True)
class AggregateSpec:
    """How the compiler builds one aggregate: ``create()`` a fresh accumulator,
    ``restore(state)`` one from a snapshot, whether ``remove`` is supported (``invertible``),
    and the result type from the argument type (``None`` = unknown)."""

    name: str
    create: Callable[[], Accumulator]
    restore: Callable[[Any], Accumulator]
    invertible: bool
    returns: ResultRule
    #: The accumulator is fed NULL values too (FIRST_VALUE/LAST_VALUE see every row);
    #: operators skip NULLs for the others, which ignore them anyway.
    sees_nulls: bool = False


def _same(t: SqlType | None) -> SqlType | None:
    return t


def _always(result: SqlType) -> ResultRule:
    """The rule of an aggregate whose result type is ``result`` whatever its argument's."""

    def rule(t: SqlType | None) -> SqlType | None:
        return result

    return rule


_bigint, _double, _boolean = _always(BIGINT), _always(DOUBLE), _always(BOOLEAN)


def _sum_type(t: SqlType | None) -> SqlType | None:
    """Integer sums widen to BIGINT (the accumulator never overflows; the column may);
    REAL widens to DOUBLE; DECIMAL and INTERVAL keep their type."""
    if t is None:
        return None
    if t.is_integer:
        return BIGINT
    if t.kind is TypeKind.REAL:
        return DOUBLE
    return t


def _spec(
    name: str, cls: Any, returns: ResultRule, *, invertible: bool = True, **kwargs: Any
) -> tuple[str, AggregateSpec]:
    sees_nulls = issubclass(cls, FirstValue)
    create = (lambda: cls(**kwargs)) if kwargs else cls
    return name, AggregateSpec(name, create, cls.restore, invertible, returns, sees_nulls)


def _over_distinct(name: str, of: type, returns: ResultRule) -> tuple[str, AggregateSpec]:
    """``NAME(DISTINCT x)``: ``of`` over the distinct values (:class:`OverDistinct`)."""
    return name + DISTINCT_SUFFIX, AggregateSpec(
        name + DISTINCT_SUFFIX,
        lambda: OverDistinct(of),
        lambda state: OverDistinct.restore_of(of, state),
        True,
        returns,
    )


AGGREGATES: Mapping[str, AggregateSpec] = MappingProxyType(
    dict(
        [
            _spec("COUNT", Count, _bigint),
            _spec("SUM", Sum, _sum_type),
            _spec("AVG", Avg, _same),
            _spec("MIN", Min, _same),
            _spec("MAX", Max, _same),
            _spec("FIRST_VALUE", FirstValue, _same),
            _spec("LAST_VALUE", LastValue, _same),
            _spec("FIRST_VALUE_IGNORE_NULLS", FirstValue, _same, ignore_nulls=True),
            _spec("LAST_VALUE_IGNORE_NULLS", LastValue, _same, ignore_nulls=True),
            _spec("VAR_POP", VarPop, _double),
            _spec("VAR_SAMP", VarSamp, _double),
            _spec("VARIANCE", VarSamp, _double),
            _spec("STDDEV_POP", StddevPop, _double),
            _spec("STDDEV_SAMP", StddevSamp, _double),
            _spec("STDDEV", StddevSamp, _double),
            _spec("COUNT_DISTINCT", CountDistinct, _bigint),
            _spec("SUM_DISTINCT", SumDistinct, _sum_type),
            _over_distinct("AVG", Avg, _same),
            _over_distinct("VAR_POP", VarPop, _double),
            _over_distinct("VAR_SAMP", VarSamp, _double),
            _over_distinct("VARIANCE", VarSamp, _double),
            _over_distinct("STDDEV_POP", StddevPop, _double),
            _over_distinct("STDDEV_SAMP", StddevSamp, _double),
            _over_distinct("STDDEV", StddevSamp, _double),
            _spec("ANY", BoolAny, _boolean),
            _spec("EVERY", BoolEvery, _boolean),
        ]
    )
)

#: Cheaper accumulators for windows that never remove values (tumbling): same results and
#: snapshot forms as the :data:`AGGREGATES` entry of the same name.
ADD_ONLY: Mapping[str, AggregateSpec] = MappingProxyType(
    dict(
        [
            _spec("MIN", AddOnlyMin, _same, invertible=False),
            _spec("MAX", AddOnlyMax, _same, invertible=False),
        ]
    )
)
