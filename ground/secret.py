"""A string that is never printed: passwords, secret keys, tokens.

:class:`Secret` lives in a module of its own so that every configuration of the ground
(:mod:`ground.settings`, :mod:`ground.kafka_config`) can hold one without importing another.
"""

from __future__ import annotations

__all__ = ["REDACTED", "Secret"]

#: what is shown in place of a secret
REDACTED = "***"


class Secret:
    """A string that is never printed. Call :meth:`reveal` where the value is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
