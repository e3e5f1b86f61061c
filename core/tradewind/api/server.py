"""The API served by a running host: uvicorn on a thread and event loop of its own
(``[api] serve = "thread"``; the default, a process of its own, is tradewind.api.procserver).

HTTP parsing, routing, validation, authentication, rate limiting and JSON encoding run on the
API's thread, so a burst of requests does not delay the engine's decisions. The read
endpoints of trades, money, health and state answer on the API's thread from the latest
immutable snapshot the engine published at the end of a step (tradewind.api.snapshot): they
never wait for the engine's loop nor touch its state. What else a handler reads or changes
of the engine (the operator, the watchlist, the journal's pages, candles) is handed to the
engine's loop with a thread-safe call (:class:`EngineBridge`) and runs there between two of
the engine's steps, so engine state and the journal's DuckDB connection are only ever used
from the engine's thread. Events reach websocket clients the same way in reverse.

A backtest serves the API too, for reading; its control calls act on the simulated account
like a paper host's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import uvicorn

from tradewind.api.app import create_app
from tradewind.api.budget import CpuBudget
from tradewind.api.views import HostView
from tradewind.errors import ConfigError, SecretNotSetError
from tradewind.trading.operator import Operator

if TYPE_CHECKING:
    from tradewind.config import ApiSection
    from tradewind.trading.engine import Engine

log = logging.getLogger("tradewind.api")


class EngineBridge:
    """Runs a function on the engine's event loop from the API's thread, and awaits it."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        #: The engine's loop; None runs calls where they are made.
        self.loop = loop
        #: Calls handed to the engine's loop (for tests and the benchmark).
        self.calls = 0

    async def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            out = fn(*args, **kwargs)
            return await out if inspect.isawaitable(out) else out

        if self.loop is None or asyncio.get_running_loop() is self.loop:
            return await run()  # already on the engine's loop (an in-process client)
        self.calls += 1
        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return await asyncio.wrap_future(future)


class ApiServer:
    """uvicorn serving one host's API on its own thread; :attr:`port` is the bound port once
    started."""

    def __init__(
        self, engine: Engine, token: str, *, engine_loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        settings = engine.config.api
        self.view = HostView(engine)
        self.bridge = EngineBridge(engine_loop)
        # The server's thread's CPU (the budget is read there): the engine's is never the API's.
        self.budget = CpuBudget(settings.cpu_share, cpu=time.thread_time)
        self.app = create_app(
            self.view,
            Operator.of(engine),
            settings,
            token,
            engine_call=self.bridge,
            budget=self.budget,
        )
        self.config = uvicorn_config(self.app, settings)
        self.server = uvicorn.Server(self.config)
        self.port: int = settings.port
        self._thread: threading.Thread | None = None
        self._started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self.error: BaseException | None = None

    def start(self) -> int:
        """Start the server's thread; block until it listens (its port) or failed (raised)."""
        self._thread = threading.Thread(target=self._main, name="tradewind-api", daemon=True)
        self._thread.start()
        return self._started.result()

    def _main(self) -> None:
        try:
            asyncio.run(self.serve())
        except BaseException as exc:  # reported to start() or kept for join()
            if not self._started.done():
                self._started.set_exception(exc)
            else:
                self.error = exc
                log.error("the API server stopped: %s: %s", type(exc).__name__, exc)

    def join(self) -> None:
        """Wait for the server's thread to end (after :meth:`stop`)."""
        if self._thread is not None:
            self._thread.join()

    async def serve(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until :meth:`stop`; reports the bound port to ``task_status`` once up."""
        server = self.server
        config = self.config
        self.port = await listen(server)
        log.warning("API listening on http://%s:%d (dashboard at /)", config.host, self.port)
        task_status.started(self.port)
        if not self._started.done():
            self._started.set_result(self.port)
        try:
            await server.main_loop()
        finally:
            await server.shutdown()

    def stop(self) -> None:
        """Ask the server to finish."""
        self.server.should_exit = True


def uvicorn_config(app: Any, settings: ApiSection, http: str = "auto") -> uvicorn.Config:
    """uvicorn's config for the API (thread and process mode alike)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,  # never log request lines (a token could sit in a query string)
        lifespan="off",
        ws="websockets-sansio" if _has_sansio() else "auto",
        http=http,
        # Requests still waiting on the engine when it stops are not waited for long.
        timeout_graceful_shutdown=2,
    )


async def listen(server: uvicorn.Server) -> int:
    """Start ``server`` listening (not ``Server.serve()``: that installs signal handlers,
    which belong to the host); the bound port, or a ConfigError naming ``$.api.port``."""
    config = server.config
    if not config.loaded:
        config.load()
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup()
    except SystemExit:  # uvicorn exits when it cannot bind; the host reports it instead
        server.should_exit = True
    if server.should_exit or not server.servers:
        raise ConfigError(
            f"the API cannot listen on {config.host}:{config.port} (in use or not "
            f"allowed) @ $.api.port"
        )
    return int(server.servers[0].sockets[0].getsockname()[1])


def _has_sansio() -> bool:
    try:
        from uvicorn.protocols.websockets import websockets_sansio_impl  # noqa: F401
    except ImportError:
        return False
    return True


def api_token(env_name: str) -> str:
    """The API token from the environment; fails fast, naming the variable, when unset."""
    token = os.environ.get(env_name)
    if not token:
        raise SecretNotSetError(
            f"the API token env:{env_name} is not set: export {env_name}=$(tradewind api token) "
            f"before starting the host @ $.api.token_env"
        )
    if len(token) < 16:
        raise SecretNotSetError(
            f"the API token in {env_name} is shorter than 16 characters; make one with "
            f"`tradewind api token` @ $.api.token_env"
        )
    return token


@asynccontextmanager
async def api_service(engine: Engine) -> AsyncIterator[Any]:
    """Serve the API for the length of the run: from a process of its own
    (tradewind.api.procserver) or on a thread of the host's (``[api] serve``)."""
    if engine.config.api.serve == "process":
        from tradewind.api.procserver import process_api_service

        async with process_api_service(engine) as api:
            yield api
        return
    async with thread_api_service(engine) as server:
        yield server


@asynccontextmanager
async def thread_api_service(engine: Engine) -> AsyncIterator[ApiServer]:
    """Serve the API on a thread of the host's process for the length of the run."""
    token = api_token(engine.config.api.token_env)
    server = ApiServer(engine, token, engine_loop=asyncio.get_running_loop())
    logging.getLogger("tradewind").addHandler(server.view.logs)
    engine.bus.subscribe("api", server.view.on_event)
    engine.api_server = server  # type: ignore[attr-defined]
    await anyio.to_thread.run_sync(server.start)
    try:
        yield server
    finally:
        server.stop()
        for send in list(server.view.listeners):
            send.close()
        # The engine's loop keeps running while the server finishes the calls it waits on.
        await anyio.to_thread.run_sync(server.join)
    server.view.close()
    logging.getLogger("tradewind").removeHandler(server.view.logs)
