"""The API served by a running host: uvicorn in the host's event loop, beside the feed.

The server runs as a task of the run (a service of :class:`tradewind.trading.engine.Engine`), so its
handlers and the engine take turns on one thread: a handler sees the engine between two of its
steps, and the journal's DuckDB connection is never used from two threads. A backtest serves
the API too, for reading; its control calls act on the simulated account like a paper host's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import uvicorn

from tradewind.api.app import create_app
from tradewind.api.views import HostView
from tradewind.errors import ConfigError, SecretNotSetError
from tradewind.trading.operator import Operator

if TYPE_CHECKING:
    from tradewind.trading.engine import Engine

log = logging.getLogger("tradewind.api")


class ApiServer:
    """uvicorn serving one host's API; :attr:`port` is the bound port once started."""

    def __init__(self, engine: Engine, token: str) -> None:
        settings = engine.config.api
        self.view = HostView(engine)
        self.app = create_app(self.view, Operator.of(engine), settings, token)
        self.config = uvicorn.Config(
            self.app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,  # never log request lines (a token could sit in a query string)
            lifespan="off",
            ws="websockets-sansio" if _has_sansio() else "auto",
        )
        self.server = uvicorn.Server(self.config)
        self.port: int = settings.port

    async def serve(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until :meth:`stop`; reports the bound port to ``task_status`` once up."""
        server = self.server
        config = self.config
        if not config.loaded:
            config.load()
        server.lifespan = config.lifespan_class(config)
        # Not Server.serve(): that installs signal handlers, which belong to the host.
        try:
            await server.startup()
        except SystemExit:  # uvicorn exits when it cannot bind; the host reports it instead
            server.should_exit = True
        if server.should_exit or not server.servers:
            raise ConfigError(
                f"the API cannot listen on {config.host}:{config.port} (in use or not "
                f"allowed) @ $.api.port"
            )
        sock = server.servers[0].sockets[0]
        self.port = int(sock.getsockname()[1])
        log.warning("API listening on http://%s:%d (dashboard at /)", config.host, self.port)
        task_status.started(self.port)
        try:
            await server.main_loop()
        finally:
            await server.shutdown()

    def stop(self) -> None:
        """Ask the server to finish."""
        self.server.should_exit = True


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
async def api_service(engine: Engine) -> AsyncIterator[ApiServer]:
    """Serve the API for the length of the run."""
    token = api_token(engine.config.api.token_env)
    server = ApiServer(engine, token)
    logging.getLogger("tradewind").addHandler(server.view.logs)
    engine.bus.subscribe("api", server.view.on_event)
    engine.api_server = server  # type: ignore[attr-defined]
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve)
        try:
            yield server
        finally:
            server.stop()
            for send in list(server.view.listeners):
                send.close()
    server.view.close()
    logging.getLogger("tradewind").removeHandler(server.view.logs)
