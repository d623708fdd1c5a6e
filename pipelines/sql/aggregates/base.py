"""The accumulator contract every aggregate follows.

``add(value)``, ``remove(value)`` (sliding windows), ``result()`` and ``state()`` (a JSON-safe
snapshot that the aggregate's ``restore`` turns back into an equal accumulator).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Accumulator"]


class Accumulator(Protocol):
    def add(self, value: Any) -> None: ...

    def remove(self, value: Any) -> None: ...

    def result(self) -> Any: ...

    def state(self) -> Any: ...
