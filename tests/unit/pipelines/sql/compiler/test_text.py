"""SUBSTRING by pattern in a pump."""

from __future__ import annotations

import pytest

from ground.errors import SqlUnsupportedError
from tests.unit.pipelines.sql.compiler.pumps import run

# ---------------------------------------------------------------- SUBSTRING by pattern


def test_substring_from_a_regex_computes_instead_of_failing_every_row() -> None:
    # before: SUBSTRING(s FROM 'regex') passed check and then failed on every row
    out, failures = run(
        "a VARCHAR(16), b VARCHAR(16)",
        "SUBSTRING(log FROM '[0-9]+'), SUBSTRING(log SIMILAR '%#\"[0-9]+#\"%' ESCAPE '#')",
        [(1, ("abc 123 def 45", 1)), (2, ("none", 2))],
    )
    assert failures == []
    assert [r[1:] for r in out] == [("123", "123"), (None, None)]
    with pytest.raises(SqlUnsupportedError, match="FROM <regex> FOR"):
        run("a VARCHAR(16)", "SUBSTRING(log FROM '[0-9]+' FOR 2)", [])
