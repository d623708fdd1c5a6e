"""``JOIN … USING (c, …)`` and ``NATURAL JOIN``: written as ``ON``, with the columns the
join gives the rest of the query.

KDA's FROM clause (SQL Reference, *FROM clause*, sql-reference-from-clause.html) has
``<table-reference> NATURAL <join-type> JOIN <table-reference>`` and ``… JOIN … USING (
<column>, … )`` beside ``ON``; its *JOIN clause* says "For each named column, left and right
must both have a column of that name. r1 JOIN r2 USING (c1, c2) is equivalent to r1 JOIN r2
ON r1.c1 = r2.c1 AND r1.c2 = r2.c2", and that "A cross join never has an ON or USING
condition". NATURAL is USING with every column name the two sides share. The reference says
nothing more; the rest is the SQL standard's (SQL:2011, 7.7 *joined table*):

- a join column appears once in the join's result, as ``COALESCE(left.c, right.c)``:
  ``c`` unqualified, and in ``*``. (That is the left side's ``c`` for an INNER or LEFT join
  and the right side's for a RIGHT join, which is what is computed for those.)
- ``SELECT *`` is the join columns, in the order they have on the left side ("taken in order
  of their ordinal positions" in the left table, whatever USING's order), then the left
  side's other columns, then the right side's; ``t.*`` is every column of ``t``, its join
  columns too, and a qualified ``t.c`` is ``t``'s own value (NULL on the side an outer join
  fills), as PostgreSQL and DuckDB read it;
- ROWTIME is no column a NATURAL join matches (KDA, *SELECT clause*: a stream's ROWTIME
  "does not count as a column"), nor can USING name it; neither can a source stream's
  ``APPROXIMATE_ARRIVAL_TIME``;
- a NATURAL join of relations that share no column name has the condition TRUE.

:func:`rewrite_join_conditions` does this on a SELECT whose joins are streams and reference
tables (subqueries were made hidden streams before): each such join gets its ``ON``, and the
unqualified references to a join column and ``*`` are written out, so every planner reads a
plain ``ON`` join.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce

from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamColumn
from pipelines.sql.nodes import identifier_name

__all__ = ["rewrite_join_conditions"]

#: Makes a plan error of (kind, message, node).
ErrorFactory = Callable[[type, str, exp.Expression | None], Exception]


@dataclass(frozen=True, slots=True)
class _Exposed:
    """A column of the join's result: its name and what it is (``q.c``, or a COALESCE)."""

    name: str
    value: exp.Expression
    #: made by a USING or NATURAL join (an unqualified reference is written out)
    merged: bool = False


def rewrite_join_conditions(
    select: exp.Select,
    relation_columns: Callable[[exp.Expression], list[StreamColumn]],
    error: ErrorFactory,
) -> None:
    """Give each ``USING``/``NATURAL`` join of ``select`` its ``ON`` and write out what the
    join columns mean elsewhere in ``select`` (see the module docs). ``relation_columns``
    gives the columns of a FROM or JOIN relation, each with its qualifier first."""
    joins = list(select.args.get("joins") or [])
    if not any(_is_using(j) for j in joins):
        return
    from_ = select.args["from_"].this
    exposed = _columns_of(from_, relation_columns)
    for join in joins:
        right = _columns_of(join.this, relation_columns)
        if not _is_using(join):
            exposed = exposed + right
            continue
        exposed = _rewrite_join(join, exposed, right, error)
    _write_out(select, exposed)


def _is_using(join: exp.Join) -> bool:
    return bool(join.args.get("using")) or str(join.args.get("method") or "").upper() == "NATURAL"


def _columns_of(
    relation: exp.Expression, relation_columns: Callable[[exp.Expression], list[StreamColumn]]
) -> list[_Exposed]:
    return [
        _Exposed(c.name, _column(c.name, c.qualifiers[0]))
        for c in relation_columns(relation)
        if not c.system
    ]


def _column(name: str, qualifier: str) -> exp.Column:
    return exp.Column(
        this=exp.Identifier(this=name, quoted=True),
        table=exp.Identifier(this=qualifier, quoted=True),
    )


def _find(columns: Sequence[_Exposed], name: str) -> list[_Exposed]:
    """The columns called ``name`` (as a reference finds them: exactly, else ignoring case)."""
    found = [c for c in columns if c.name == name]
    return found or [c for c in columns if c.name.upper() == name.upper()]


def _rewrite_join(
    join: exp.Join, left: list[_Exposed], right: list[_Exposed], error: ErrorFactory
) -> list[_Exposed]:
    """Give ``join`` its ON; returns the columns of its result."""
    side = str(join.args.get("side") or "").upper()
    kind = str(join.args.get("kind") or "").upper()
    natural = str(join.args.get("method") or "").upper() == "NATURAL"
    construct = "NATURAL JOIN" if natural else "JOIN … USING"
    if kind == "CROSS":
        raise error(
            SqlPlanError,
            f"a CROSS JOIN has no join condition: {construct} (KDA, SQL Reference, JOIN "
            "clause: \"A cross join never has an ON or USING condition\")",
            join,
        )
    if natural:
        shared = {c.name for c in right}
        names = [c.name for c in left if c.name in shared]
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise error(
                SqlPlanError,
                f"NATURAL JOIN: column {twice} is on its left side twice; write ON",
                join,
            )
    else:
        names = [identifier_name(i) for i in join.args["using"]]
        if len(set(names)) != len(names):
            raise error(SqlPlanError, "JOIN … USING names a column twice", join)
    pairs: list[tuple[_Exposed, _Exposed]] = []
    for name in names:
        on_left, on_right = _find(left, name), _find(right, name)
        for found, where in ((on_left, "left"), (on_right, "right")):
            if not found:
                known = ", ".join(sorted({c.name for c in (left if where == "left" else right)}))
                extra = (
                    " (ROWTIME is no column a join matches: every stream has its own)"
                    if name.upper() in ("ROWTIME", "APPROXIMATE_ARRIVAL_TIME")
                    else ""
                )
                raise error(
                    SqlPlanError,
                    f"{construct}: column {name} is not on its {where} side{extra}; "
                    f"that side has {known}",
                    join,
                )
            if len(found) > 1:
                raise error(
                    SqlPlanError,
                    f"{construct}: column {name} is on its {where} side twice; write ON",
                    join,
                )
        pairs.append((on_left[0], on_right[0]))
    # the join columns come first in the left side's order (SQL:2011 7.7: "taken in order
    # of their ordinal positions in RT1"), whatever USING's order
    position = {id(c): i for i, c in enumerate(left)}
    pairs.sort(key=lambda pair: position[id(pair[0])])
    conditions: list[exp.Expression] = [
        exp.EQ(this=a.value.copy(), expression=b.value.copy()) for a, b in pairs
    ]
    condition: exp.Expression = (
        reduce(lambda a, b: exp.And(this=a, expression=b), conditions)
        if conditions
        else exp.Boolean(this=True)
    )
    join.set("using", None)
    join.set("method", None)
    join.set("on", condition)
    merged = [
        _Exposed(a.name, _merged(a.value, b.value, side), merged=True) for a, b in pairs
    ]
    used_left = {id(a) for a, _ in pairs}
    used_right = {id(b) for _, b in pairs}
    return (
        merged
        + [c for c in left if id(c) not in used_left]
        + [c for c in right if id(c) not in used_right]
    )


def _merged(left: exp.Expression, right: exp.Expression, side: str) -> exp.Expression:
    """A join column's value in the result (SQL:2011 7.7: COALESCE for a FULL join)."""
    if side == "FULL":
        return exp.Coalesce(this=left.copy(), expressions=[right.copy()])
    return (right if side == "RIGHT" else left).copy()


def _write_out(select: exp.Select, exposed: list[_Exposed]) -> None:
    """``*`` and the unqualified references to a join column of ``select``, written out."""
    items: list[exp.Expression] = []
    for item in select.expressions:
        if isinstance(item, exp.Star):
            items.extend(_item(c.name, c.value) for c in exposed)
        else:
            items.append(item)
    select.set("expressions", items)
    counts: dict[str, int] = {}
    for entry in exposed:
        counts[entry.name] = counts.get(entry.name, 0) + 1
    # a name another relation also has stays ambiguous (the planner says so)
    merged = {c.name: c.value for c in exposed if c.merged and counts[c.name] == 1}
    if not merged:
        return
    aliases = {
        identifier_name(item.args["alias"]) for item in items if isinstance(item, exp.Alias)
    }
    order = select.args.get("order")
    for column in list(select.find_all(exp.Column)):
        if column.args.get("table") is not None or isinstance(column.this, exp.Star):
            continue
        name = identifier_name(column.this)
        value = merged.get(name)
        if value is None or not _belongs_to(column, select):
            continue
        if order is not None and name in aliases and _under(column, order):
            continue  # ORDER BY names the item first
        if column.parent is select:
            column.replace(_item(name, value))
        else:
            column.replace(value.copy())


def _item(name: str, value: exp.Expression) -> exp.Expression:
    """A SELECT item ``value`` named ``name``."""
    if isinstance(value, exp.Column) and identifier_name(value.this) == name:
        return value.copy()
    return exp.Alias(this=value.copy(), alias=exp.Identifier(this=name, quoted=True))


def _belongs_to(node: exp.Expression, select: exp.Select) -> bool:
    """Whether ``node`` is in ``select``'s own clauses (not a nested query's, not a FROM or
    JOIN relation)."""
    parent = node.parent
    while parent is not None and parent is not select:
        if isinstance(parent, exp.Select | exp.Subquery | exp.Table):
            return False
        parent = parent.parent
    return parent is select


def _under(node: exp.Expression, ancestor: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False
