"""A hard deadline for blocking client calls that may ignore their own timeout.

librdkafka's ``send_offsets_to_transaction`` can block forever after the group coordinator
went away and came back (a single broker killed and restarted): the call waits for a
coordinator lookup that is never re-triggered, whatever timeout it was given (librdkafka
issues #5456 and #5511, open in 2.16). The runtime cannot interrupt a call stuck in C, so it
runs transactional calls on a helper thread and stops waiting after the deadline; the worker
stops with :class:`~ground.errors.StuckClientError`, and ``shardline run`` starts its process
again: a thread stuck in C keeps its producer alive for as long as the call blocks, and only a
new process frees it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["StuckCall", "call_with_deadline"]


class StuckCall(Exception):
    """The call had not returned when its deadline passed; it may still be running, on
    ``thread`` (which holds what the call holds, e.g. its producer, until it returns)."""

    def __init__(self, message: str, thread: threading.Thread) -> None:
        super().__init__(message)
        self.thread = thread


def call_with_deadline(fn: Callable[[], Any], limit_s: float, what: str) -> Any:
    """``fn()``'s result, or its exception; :class:`StuckCall` once ``limit_s`` passed.

    The GIL is released while a confluent-kafka call waits, so waiting here costs nothing.
    A thread per call (~0.1 ms) is fine at commit frequency; do not use it per record.
    """
    result: list[Any] = []
    error: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # handed to the caller
            error.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"shardline-{what}", daemon=True)
    thread.start()
    if not done.wait(limit_s):
        raise StuckCall(f"{what} did not return within {limit_s:g}s", thread)
    if error:
        raise error[0]
    return result[0]
