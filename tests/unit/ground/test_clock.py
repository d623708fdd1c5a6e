import time

from ground.clock import monotonic_ms, wall_ms


def test_wall_ms_is_epoch_milliseconds() -> None:
    before = time.time()
    now = wall_ms()
    after = time.time()
    assert isinstance(now, int)
    assert int(before * 1000) - 1 <= now <= int(after * 1000) + 1


def test_monotonic_ms_never_goes_back() -> None:
    readings = [monotonic_ms() for _ in range(1000)]
    assert all(isinstance(r, int) for r in readings)
    assert readings == sorted(readings)
    time.sleep(0.02)
    assert monotonic_ms() - readings[-1] >= 19
