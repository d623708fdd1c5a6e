"""Type names → types: KDA's names and aliases, their text, the kinds' predicates."""

from __future__ import annotations

import pytest

from pipelines.sql.types import (
    SqlType,
    TypeKind,
    parse_type,
)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("VARCHAR(4)", SqlType(TypeKind.VARCHAR, length=4)),
        (" real ", SqlType(TypeKind.REAL)),
        ("DECIMAL(10,2)", SqlType(TypeKind.DECIMAL, precision=10, scale=2)),
        ("numeric(5)", SqlType(TypeKind.DECIMAL, precision=5)),
        ("DOUBLE   PRECISION", SqlType(TypeKind.DOUBLE)),
        ("character varying(8)", SqlType(TypeKind.VARCHAR, length=8)),
        ("INT", SqlType(TypeKind.INTEGER)),
        ("TIMESTAMP", SqlType(TypeKind.TIMESTAMP)),
    ],
)
def test_parse_type(text: str, want: SqlType) -> None:
    assert parse_type(text) == want


@pytest.mark.parametrize("text", ["VARCHAR(", "BLOB", "INTEGER(4)", "VARCHAR(1,2)", ""])
def test_parse_type_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_type(text)


def test_type_str_and_predicates() -> None:
    assert str(parse_type("decimal(10, 2)")) == "DECIMAL(10,2)"
    assert str(parse_type("varchar(3)")) == "VARCHAR(3)"
    assert parse_type("SMALLINT").is_integer and parse_type("REAL").is_numeric
    assert parse_type("CHAR(2)").is_string and parse_type("DATE").is_temporal
    assert not parse_type("BOOLEAN").is_numeric
