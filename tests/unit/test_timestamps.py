"""The tests' shared anchor for record timestamps (tests/timestamps.py)."""

from __future__ import annotations

import time

import pytest

from tests.timestamps import HOUR_MS, MINUTE_MS, SESSION_MS, recent_ms


def test_recent_ms_is_the_session_start_rounded_down() -> None:
    now = time.time_ns() // 1_000_000
    assert SESSION_MS <= now < SESSION_MS + 24 * HOUR_MS
    assert recent_ms() == SESSION_MS
    for align in (MINUTE_MS, HOUR_MS):
        t = recent_ms(align)
        assert t % align == 0 and SESSION_MS - align < t <= SESSION_MS
    t = recent_ms(MINUTE_MS, ago_ms=30 * MINUTE_MS)
    assert t % MINUTE_MS == 0 and t == (SESSION_MS - 30 * MINUTE_MS) // MINUTE_MS * MINUTE_MS


@pytest.mark.parametrize("kwargs", [{"align_ms": 0}, {"ago_ms": -1}])
def test_recent_ms_refuses_nonsense(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        recent_ms(**kwargs)
