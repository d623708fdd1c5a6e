"""A fault-injecting HTTP proxy for the fault tests, in front of MinIO or Elasticsearch.

:class:`FaultProxy` runs an aiohttp server on 127.0.0.1 (a free port) in a background thread
and forwards every request to ``upstream`` unchanged (same Host header, so SigV4 still holds;
bodies pass as they came, gzip included). Its :class:`Mode` is switched at run time with
:meth:`FaultProxy.set_mode`, and applies to the requests whose path matches ``fault_paths``
(by default all of them; e.g. only ``/_bulk`` so that health checks still pass):

- ``PASS``: forward;
- ``STATUS``: answer ``status`` (429, 503, …) without forwarding, with an Elasticsearch-shaped
  error body;
- ``ALTERNATE``: answer 429 and 503 in turn, without forwarding;
- ``REJECT_ITEMS``: ``_bulk`` only — every other action of the request is answered 429
  ``es_rejected_execution_exception`` (``errors: true``) and only the others are really
  forwarded; the two answers are merged in request order;
- ``REFUSE``: close the connection without an answer (the client sees a disconnect);
- ``HANG``: hold the request without an answer until the mode changes, then close it.

``delay_put_s`` holds back the answer to each (forwarded) PUT that long, ``delay_s`` (settable
at run time) the answer to every forwarded request: a slow network. ``faulted`` counts the
requests (or, for ``REJECT_ITEMS``, the bulk items) the proxy faulted, ``forwarded`` the
requests it passed on, so a test can prove the fault happened. An upstream that does not
answer (stopped) is answered 502, as a load balancer would.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from enum import StrEnum
from types import TracebackType

import aiohttp
import orjson
from aiohttp import web

__all__ = ["FaultProxy", "Mode"]

MAX_BODY_BYTES = 256 * 1024 * 1024
HOP_HEADERS = ("content-length", "transfer-encoding")
REJECTED_ITEM = {
    "type": "es_rejected_execution_exception",
    "reason": "rejected execution (fault proxy)",
}


class Mode(StrEnum):
    PASS = "pass"
    STATUS = "status"
    ALTERNATE = "alternate"
    REJECT_ITEMS = "reject_items"
    REFUSE = "refuse"
    HANG = "hang"


class FaultProxy:
    def __init__(self, upstream: str, *, fault_paths: str = "", delay_put_s: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay_put_s = delay_put_s
        self.delay_s = 0.0
        self.port = 0
        self.faulted = 0
        self.forwarded = 0
        self._paths = re.compile(fault_paths)
        self._mode = Mode.PASS
        self._status = 503
        self._alternate = itertools.cycle((429, 503))
        self._changed: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode, status: int = 503) -> None:
        """Switch the mode (``status`` is the answer of ``STATUS``); held requests go on."""
        with self._lock:
            self._mode, self._status = mode, status
        if self._changed is not None:
            self._loop.call_soon_threadsafe(self._changed.set)

    def _count(self, n: int = 1) -> None:
        with self._lock:
            self.faulted += n

    # -- the handler ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        mode = self._mode if self._paths.search(request.path) else Mode.PASS
        if mode is Mode.STATUS or mode is Mode.ALTERNATE:
            self._count()
            status = self._status if mode is Mode.STATUS else next(self._alternate)
            return _error_response(status)
        if mode is Mode.REFUSE:
            self._count()
            return _disconnect(request)
        if mode is Mode.HANG:
            self._count()
            assert self._changed is not None
            while self._mode is Mode.HANG:
                self._changed.clear()
                await self._changed.wait()
            return _disconnect(request)
        if mode is Mode.REJECT_ITEMS and request.path.endswith("/_bulk"):
            return await self._reject_items(request, body)
        try:
            status, payload, headers = await self._forward(request, body)
        except aiohttp.ClientConnectionError:  # the upstream is down: a gateway's answer
            return _error_response(502)
        if request.method == "PUT" and self.delay_put_s:
            await asyncio.sleep(self.delay_put_s)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(status=status, body=payload, headers=headers)

    async def _forward(
        self, request: web.Request, body: bytes, *, plain: bool = False
    ) -> tuple[int, bytes, dict[str, str]]:
        """``plain``: ask for an uncompressed answer (to read it here)."""
        assert self._session is not None
        with self._lock:
            self.forwarded += 1
        drop = HOP_HEADERS + (("accept-encoding",) if plain else ())
        headers = {k: v for k, v in request.headers.items() if k.lower() not in drop}
        if plain:
            headers["Accept-Encoding"] = "identity"  # aiohttp would ask for gzip
        async with self._session.request(request.method, self.upstream + request.path_qs,
                                         headers=headers, data=body,
                                         auto_decompress=False) as resp:
            payload = await resp.read()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_HEADERS}
            return resp.status, payload, out

    async def _reject_items(self, request: web.Request, body: bytes) -> web.Response:
        """Odd-numbered actions answered 429; the even ones forwarded as one ``_bulk``."""
        lines = body.splitlines()
        pairs = [lines[i:i + 2] for i in range(0, len(lines), 2)]  # index actions: 2 lines
        keep = [p for i, p in enumerate(pairs) if i % 2 == 0]
        rejected = len(pairs) - len(keep)
        self._count(rejected)
        items: list[object] = []
        errors = bool(rejected)
        if keep:
            forward = b"\n".join(line for p in keep for line in p) + b"\n"
            status, payload, _headers = await self._forward(request, forward, plain=True)
            if status != 200:
                return web.Response(status=status, body=payload,
                                    content_type="application/json")
            answer = orjson.loads(payload)
            errors = errors or bool(answer.get("errors"))
            forwarded = iter(answer.get("items", []))
        for i in range(len(pairs)):
            if i % 2 == 0:
                items.append(next(forwarded))
            else:
                items.append({"index": {"status": 429, "error": REJECTED_ITEM}})
        return web.Response(body=orjson.dumps({"errors": errors, "items": items}),
                            content_type="application/json")

    # -- the server thread --------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._changed = asyncio.Event()
            self._session = aiohttp.ClientSession()
            app = web.Application(client_max_size=MAX_BODY_BYTES)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            # the bodies go on as they came (gzip objects carry Content-Encoding: gzip)
            self._runner = web.AppRunner(app, auto_decompress=False, handle_signals=False)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        assert self._ready.wait(10), "the fault proxy did not start"
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.set_mode(Mode.PASS)  # release held requests

        async def stop() -> None:
            assert self._runner is not None and self._session is not None
            await self._runner.cleanup()
            await self._session.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _error_response(status: int) -> web.Response:
    kind = "es_rejected_execution_exception" if status == 429 else "unavailable_exception"
    error = {"type": kind, "reason": f"HTTP {status} from the fault proxy"}
    return web.Response(status=status, body=orjson.dumps({"error": error, "status": status}),
                        content_type="application/json")


def _disconnect(request: web.Request) -> web.StreamResponse:
    """Close the connection with no answer at all (the client sees it drop); the response
    returned is never written."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)
