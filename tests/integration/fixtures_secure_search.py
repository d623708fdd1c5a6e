"""Pytest plugin: a private Elasticsearch with security on (``secure_search``, session scope).

The shared stack's Elasticsearch (plain HTTP) is never touched: this one is the stack's own
search component with ``stack_secure`` on — TLS with a CA made for it, a superuser in the
file realm, the analysis plugin API keys need — in a home of its own under the session's
temporary folder, on free ports (``SHARDLINE_IT_PRIVATE_SECURE_SEARCH_PORT`` to choose;
the transport port is the next one). Its superuser's password is made for the session. It is
stopped by the pid its pid file records at the end of the session, and its files removed.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import replace

import pytest

from ground.search_auth import SearchAuth
from ground.secret import Secret
from ground.settings import Settings, search_stack_ca
from shardline.stack import Stack
from shardline.stack.search import SearchComponent
from tests.integration.fixtures_private import _port_pair

__all__ = ["secure_search"]

log = logging.getLogger(__name__)

ADMIN = "it-admin"


@pytest.fixture(scope="session")
def secure_search(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The stack's settings with the search engine moved to a private secured Elasticsearch,
    its clients authenticating as its superuser with basic auth and trusting its CA."""
    port = _port_pair("SECURE_SEARCH_PORT")
    home = tmp_path_factory.mktemp("secure-search")
    settings = replace(
        stack_settings, home=home, search_engine="elasticsearch",
        search_url=f"https://127.0.0.1:{port}", search_transport_port=port + 1,
        stack_secure=True,
        search_auth=SearchAuth(method="basic", username=ADMIN,
                               password=Secret(secrets.token_urlsafe(18)),
                               ca_bundle=search_stack_ca(home)),
    )
    component = SearchComponent(settings, dict(os.environ))
    stack = Stack(settings, components=(component,))
    runtime = component.runtime_dir
    try:
        log.info("starting a secured Elasticsearch at %s", settings.search_url)
        stack.up()
        yield settings
    finally:
        stack.down()
        if runtime != component.dir:  # unpacked outside the home (it is closed to its user)
            shutil.rmtree(runtime, ignore_errors=True)
