"""``on_idle`` gets where the partition ended, and processors of the older two-argument
protocol keep working."""

from __future__ import annotations

from typing import Any

from pipelines.runtime.loop import _on_idle


class _Old:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_idle(self, now_ms: int, idle_ms: int) -> list[Any]:
        self.calls.append((now_ms, idle_ms))
        return []


class _New:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_idle(self, now_ms: int, idle_ms: int, end_offset: int | None = None) -> list[Any]:
        self.calls.append((now_ms, idle_ms, end_offset))
        return []


class _Varargs:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_idle(self, *args: Any) -> list[Any]:
        self.calls.append(args)
        return []


def test_a_two_argument_on_idle_is_called_without_the_end_offset() -> None:
    old = _Old()
    assert _on_idle(old, 5_000, 1_000, 42) == []  # type: ignore[arg-type]
    assert old.calls == [(5_000, 1_000)]


def test_the_current_protocol_gets_the_end_offset() -> None:
    new, var = _New(), _Varargs()
    _on_idle(new, 5_000, 1_000, 42)  # type: ignore[arg-type]
    _on_idle(new, 6_000, 2_000, None)  # type: ignore[arg-type]
    _on_idle(var, 5_000, 1_000, 7)  # type: ignore[arg-type]
    assert new.calls == [(5_000, 1_000, 42), (6_000, 2_000, None)]
    assert var.calls == [(5_000, 1_000, 7)]
