"""A local exchange server for the ccxt venue's tests: aiohttp on 127.0.0.1, port 0, in a thread.

The server runs its own event loop in a background thread, so tests (and the core's
conformance suite, which calls ``anyio.run``) drive the plugin on their own loops. Test code
talks to the server's state under ``lock``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

RESOURCES = Path(__file__).parent / "resources"


def load_json(name: str, kind: str = "http") -> Any:
    """A recorded payload from ``tests/resources/<kind>/``."""
    return json.loads((RESOURCES / kind / name).read_text(encoding="utf-8"))


def template(name: str) -> Any:
    """A deep copy of a recorded payload, to fill in."""
    return copy.deepcopy(load_json(name))


def template_ws(name: str) -> Any:
    """A deep copy of a recorded websocket message, to fill in."""
    return copy.deepcopy(load_json(name, "ws"))


class ThreadedServer:
    """Base class: subclasses fill ``routes(app)``; ``start()``/``stop()`` run it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        #: (time.monotonic() on arrival, method, path) of every request; the server runs in
        #: the test's process, so the times compare with the test's own monotonic clock.
        self.arrivals: list[tuple[float, str, str]] = []
        self.unknown: list[tuple[str, str]] = []  # requests no route served
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        """Add the exchange's routes."""
        raise NotImplementedError

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        arrived = time.monotonic()
        with self.lock:
            self.requests.append((request.method, request.path))
            self.arrivals.append((arrived, request.method, request.path))
        return await handler(request)

    async def _main(self) -> None:
        app = web.Application(middlewares=[self._record])
        self.routes(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await self._runner.cleanup()

    async def _not_found(self, request: web.Request) -> web.Response:
        with self.lock:
            self.unknown.append((request.method, request.path))
        return web.json_response({"code": -5000, "msg": "Path not found"}, status=404)

    def start(self) -> ThreadedServer:
        """Start serving; returns when the port is bound."""

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(self._main())
            self.loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
