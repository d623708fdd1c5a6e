"""What an expression can see: each visible column's position in the row tuple and its type."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql.nodes import identifier_name, node_position
from pipelines.sql.types import SqlType

__all__ = ["Scope", "ScopeColumn"]


@dataclass(frozen=True, slots=True)
class ScopeColumn:
    name: str
    index: int
    sql_type: SqlType | None
    qualifier: str = ""


@dataclass(slots=True)
class Scope:
    """The columns an expression can see: name → position in the row tuple."""

    columns: list[ScopeColumn] = field(default_factory=list)
    #: Placeholder names (group keys, aggregate results) resolved before normal columns.
    specials: dict[str, ScopeColumn] = field(default_factory=dict)

    def add(self, name: str, index: int, sql_type: SqlType | None, qualifier: str = "") -> None:
        self.columns.append(ScopeColumn(name, index, sql_type, qualifier))

    def resolve(self, node: exp.Column) -> ScopeColumn:
        name = identifier_name(node.this)
        if name in self.specials:
            return self.specials[name]
        qualifier = identifier_name(node.args.get("table")) if node.args.get("table") else ""
        candidates = [c for c in self.columns if c.name == name]
        if not candidates:
            candidates = [c for c in self.columns if c.name.upper() == name.upper()]
        if qualifier:
            qualified = [
                c
                for c in candidates
                if c.qualifier == qualifier or c.qualifier.upper() == qualifier.upper()
            ]
            candidates = qualified
        line, column = node_position(node)
        if not candidates:
            shown = f"{qualifier}.{name}" if qualifier else name
            known = ", ".join(sorted({c.name for c in self.columns}))
            raise SqlPlanError(
                f"unknown column {shown!r}; visible columns: {known}", line=line, column=column
            )
        if len({c.index for c in candidates}) > 1:  # one column may have two qualifiers
            raise SqlPlanError(
                f"column {name!r} is ambiguous; qualify it with a stream alias",
                line=line,
                column=column,
            )
        return candidates[0]
