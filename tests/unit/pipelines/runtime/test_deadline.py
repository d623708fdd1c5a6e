"""call_with_deadline: the result, the exception, or StuckCall for a call that hangs."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.runtime.deadline import StuckCall, call_with_deadline


def test_returns_the_result_and_runs_on_another_thread() -> None:
    main = threading.get_ident()
    assert call_with_deadline(lambda: threading.get_ident(), 5, "ident") != main
    assert call_with_deadline(lambda: 42, 5, "answer") == 42


def test_raises_the_calls_own_exception() -> None:
    def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError, match="x"):
        call_with_deadline(boom, 5, "boom")


def test_a_call_that_hangs_raises_stuckcall_after_the_limit() -> None:
    release = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(StuckCall, match="commit_transaction did not return within 0.2s"):
            call_with_deadline(lambda: release.wait(30), 0.2, "commit_transaction")
        assert 0.2 <= time.monotonic() - started < 5
    finally:
        release.set()
