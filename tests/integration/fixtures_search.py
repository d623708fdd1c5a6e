"""Pytest plugin: the delivery-to-search tests run against Elasticsearch 8 *and* OpenSearch 2.

``search_settings`` (session scope) is parametrized over both engines. The engine the stack
runs (``SHARDLINE_SEARCH_ENGINE``, Elasticsearch by default) is the stack's own server; the
other one is a second search server next to it, on its own ports and in its own home:

- ``SHARDLINE_IT_SECOND_SEARCH_URL`` (default ``http://127.0.0.1:19201``),
- ``SHARDLINE_IT_SECOND_SEARCH_TRANSPORT_PORT`` (default ``19301``),
- ``SHARDLINE_IT_SECOND_SEARCH_HOME`` (default ``<SHARDLINE_HOME>/it-<engine>``),
- ``SHARDLINE_IT_SEARCH_ENGINES`` (default ``elasticsearch,opensearch``): the engines to test.

So that it adds as little time as possible, the second server is started in a background
thread as soon as collection shows a test needs it (before the stack fixture even runs), and
is stopped at the end of the session only if this session started it. Its distribution comes
from Maven Central through the same cache as the stack's (``SHARDLINE_CACHE``).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from ground.settings import SEARCH_ENGINES, Settings
from shardline.stack import Stack
from shardline.stack.component import http_json
from shardline.stack.search import SearchComponent

__all__ = [
    "pytest_collection_finish",
    "pytest_sessionfinish",
    "search_settings",
    "second_search_settings",
]

log = logging.getLogger(__name__)

ENV = "SHARDLINE_IT_"
DEFAULT_URL = "http://127.0.0.1:19201"
DEFAULT_TRANSPORT_PORT = "19301"
FIXTURE = "search_settings"


def engines() -> list[str]:
    raw = os.environ.get(ENV + "SEARCH_ENGINES", ",".join(SEARCH_ENGINES))
    chosen = [e.strip() for e in raw.split(",") if e.strip()]
    unknown = [e for e in chosen if e not in SEARCH_ENGINES]
    if unknown or not chosen:
        raise pytest.UsageError(
            f"{ENV}SEARCH_ENGINES: one or more of {SEARCH_ENGINES}, got {raw!r}")
    return chosen


def second_search_settings(settings: Settings, engine: str) -> Settings:
    """``settings`` with the search engine moved to the second server."""
    home = os.environ.get(ENV + "SECOND_SEARCH_HOME") or str(settings.home / f"it-{engine}")
    return replace(
        settings,
        search_engine=engine,
        search_url=os.environ.get(ENV + "SECOND_SEARCH_URL", DEFAULT_URL).rstrip("/"),
        search_transport_port=int(
            os.environ.get(ENV + "SECOND_SEARCH_TRANSPORT_PORT", DEFAULT_TRANSPORT_PORT)),
        home=Path(home).expanduser().resolve(),
    )


class _SecondServer:
    """Starts the second search server in the background; remembers whether it did."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stack = Stack(settings, components=(SearchComponent(settings, dict(os.environ)),))
        self.started = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._up, name="second-search", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _up(self) -> None:
        try:
            if not self.stack.status()[0].healthy:
                log.info("starting %s at %s", self.settings.search_engine,
                         self.settings.search_url)
                self.started = bool(self.stack.up())
        except BaseException as exc:  # reported by the fixture, in the test that needs it
            self.error = exc

    def wait(self) -> Settings:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.settings

    def stop(self) -> None:
        self._thread.join()
        if self.started:
            self.stack.down()


_second: _SecondServer | None = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the second server early if a collected test will use it."""
    global _second
    base = Settings.from_env()
    others = [e for e in engines() if e != base.search_engine]
    needed = any(FIXTURE in getattr(item, "fixturenames", ()) for item in session.items)
    if others and needed and _second is None and not session.config.option.collectonly:
        _second = _SecondServer(second_search_settings(base, others[0]))
        _second.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _second
    if _second is not None:
        _second.stop()
        _second = None


@pytest.fixture(scope="session", params=engines())
def search_settings(request: pytest.FixtureRequest, stack_settings: Settings) -> Settings:
    """The stack's settings, with the search URL of the engine this test runs against."""
    engine: str = request.param
    if engine == stack_settings.search_engine:
        return stack_settings
    if _second is None:  # e.g. run without collection hooks: start it now
        server = _SecondServer(second_search_settings(stack_settings, engine))
        globals()["_second"] = server
        server.start()
    assert _second is not None
    second = _second.wait()
    # A server someone else left on that port must at least be the right engine.
    root = http_json(second.search_url + "/", 10)
    version = root.get("version", {}) if isinstance(root, dict) else {}
    distribution = version.get("distribution", "elasticsearch")
    if distribution != engine:
        pytest.fail(f"{second.search_url} runs {distribution}, not {engine}: set "
                    f"{ENV}SECOND_SEARCH_URL to a free port")
    # Kafka and MinIO stay the stack's (the second server only moved the search engine).
    return replace(stack_settings, search_engine=engine, search_url=second.search_url,
                   search_transport_port=second.search_transport_port)
