import pytest

from pipelines.windows import Window, tumbling_window


@pytest.mark.parametrize(
    ("ts", "size", "start"),
    [
        (0, 60_000, 0),
        (59_999, 60_000, 0),
        (60_000, 60_000, 60_000),
        (-1, 60_000, -60_000),
        (23, 5, 20),
    ],
)
def test_tumbling_window_floor_aligned(ts: int, size: int, start: int) -> None:
    w = tumbling_window(ts, size)
    assert (w.start_ms, w.end_ms) == (start, start + size)
    assert w.contains(ts)
    assert not w.contains(w.end_ms)


def test_tumbling_window_rejects_bad_size() -> None:
    with pytest.raises(ValueError):
        tumbling_window(10, 0)
    with pytest.raises(ValueError):
        Window(5, 5)
