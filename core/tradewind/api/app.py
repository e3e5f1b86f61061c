"""The routes of the API (under ``/api/v1``), the websocket of events and the dashboard.

Every route but ``/api/v1/ping`` needs the token: the API routes, ``/docs`` and
``/openapi.json`` (basic auth is accepted there, so a browser can prompt for it), the
websocket (the token as its ``bearer.<token>`` subprotocol) and the dashboard page, which
without the token answers 401 with its login form — the form holds no data.

The read endpoints of trades, money, health and the trading state answer from the engine's
latest snapshot (tradewind.api.snapshot) where the request is handled, without calling into
the engine — in an API process of its own, from the mirror of those snapshots
(tradewind.api.mirror), which also answers the logs, the watchlist's listing and the newest
journal pages. Everything else that reads or changes the engine (journal pages, candles, the
operator's controls, the watchlist) is a named operation (tradewind.api.ops) run on the
engine's loop, between two of its steps, which publishes a new snapshot after it.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Annotated, Any, Literal

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketDisconnect

from tradewind import __version__
from tradewind.api.auth import RateLimiter, TokenCheck, credential
from tradewind.api.budget import CpuBudget
from tradewind.api.ops import HostOps, OpError
from tradewind.api.views import HostView, NotKept, _dumps
from tradewind.config import ApiSection
from tradewind.model import Side
from tradewind.timeframes import parse_timeframe
from tradewind.trading.control import ControlError
from tradewind.trading.operator import Operator

PREFIX = "/api/v1"
WS_SUBPROTOCOL = "bearer"


class ForceEnterPayload(BaseModel):
    """Freqtrade's force-enter body: ``pair`` is a tradewind instrument key (venue:symbol)."""

    pair: str = Field(min_length=3, description="instrument key, e.g. sim:BTCUSDT")
    side: Literal["long", "short"] = "long"
    price: float | None = Field(default=None, gt=0)
    ordertype: Literal["market"] | None = None
    stakeamount: float | None = Field(default=None, gt=0, description="quantity in base units")
    entry_tag: str | None = None
    leverage: float | None = Field(default=None, gt=0)


class ForceExitPayload(BaseModel):
    """Freqtrade's force-exit body: a trade id, an instrument key, or ``all``."""

    tradeid: str | int
    ordertype: Literal["market"] | None = None
    amount: float | None = Field(default=None, gt=0)


class BlacklistPayload(BaseModel):
    """Instruments to refuse entries for."""

    blacklist: list[str]


class WatchlistAdd(BaseModel):
    """Put an instrument on the watchlist (the seed's §5.3)."""

    exchange: str = Field(min_length=1, description="the venue instance, e.g. sim")
    market_type: Literal["spot", "perp"] = "spot"
    symbol: str = Field(min_length=1)
    duration_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    priority: int = Field(default=0, ge=0, le=1000)


class WatchlistKey(BaseModel):
    """Names a watchlist entry: its instrument key, or exchange and symbol."""

    instrument: str | None = None
    exchange: str | None = None
    symbol: str | None = None
    duration_hours: float | None = Field(default=None, gt=0, le=24 * 365)

    def key(self) -> str:
        """The instrument key this body names."""
        if self.instrument:
            return self.instrument
        if self.exchange and self.symbol:
            return f"{self.exchange}:{self.symbol}"
        raise HTTPException(
            422,
            detail=[
                {
                    "loc": ["body", "instrument"],
                    "msg": "give 'instrument' or both 'exchange' and 'symbol'",
                    "type": "missing",
                }
            ],
        )


def _caller(request: Request | WebSocket) -> str:
    client = request.client
    host = f"{client.host}:{client.port}" if client else "unknown"
    agent = request.headers.get("user-agent", "")[:60]
    return f"api {host}" + (f" ({agent})" if agent else "")


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison of ``If-None-Match`` (a list of tags, or ``*``)."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def dashboard_html() -> str:
    """The dashboard page, assets inlined (nothing loads from elsewhere)."""
    static = resources.files("tradewind.api") / "static"
    html = (static / "index.html").read_text(encoding="utf-8")
    css = (static / "dashboard.css").read_text(encoding="utf-8")
    js = (static / "dashboard.js").read_text(encoding="utf-8")
    return html.replace("/*CSS*/", css).replace("/*JS*/", js)


def create_app(
    view: HostView,
    operator: Operator | None,
    settings: ApiSection,
    token: str,
    *,
    engine_call: Callable[..., Awaitable[Any]] | None = None,
    host_call: Callable[..., Awaitable[Any]] | None = None,
    budget: CpuBudget | None = None,
) -> FastAPI:
    """The API of one running host.

    ``engine_call(fn, *args)`` runs ``fn`` (sync, or a coroutine function) on the engine's
    event loop and returns its result (tradewind.api.server: the server runs on a thread and
    loop of its own). Without it, ``fn`` runs where the request is handled.

    ``host_call(name, *args)`` runs the operation ``name`` of :class:`~tradewind.api.ops.HostOps`
    on the host and returns its result: an API process passes one that asks its host over
    the socket (and no operator); without it the operations run on ``operator`` and ``view``
    through ``engine_call``.

    ``budget``: the API's CPU budget (``[api] cpu_share``, tradewind.api.budget); every HTTP
    request, ``ping`` too, waits in it before it is handled. None: no budget (an app on the
    engine's own loop, whose CPU clock is the engine's).
    """
    check = TokenCheck(token)

    async def on_engine(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # Whatever reads or changes the engine (the operator, the watchlist, the journal's
        # pages) runs on the engine's loop, between two of its steps; parsing, validation
        # and JSON encoding stay on the API's thread. What it changed is published at once.
        async def run() -> Any:
            out = fn(*args, **kwargs)
            out = await out if inspect.isawaitable(out) else out
            view.source.publish()
            return out

        if engine_call is not None:
            return await engine_call(run)
        return await run()

    if host_call is None:
        if operator is None:
            raise TypeError("create_app needs an operator or a host_call")
        ops = HostOps(view, operator)

        async def local_call(name: str, *args: Any) -> Any:
            return await on_engine(getattr(ops, name), *args)

        host_call = local_call

    async def call(name: str, *args: Any) -> Any:
        assert host_call is not None
        try:
            return await host_call(name, *args)
        except OpError as exc:
            raise HTTPException(exc.status, detail=exc.detail) from None

    def read(fn: Callable[..., Any], *args: Any) -> Any:
        # The snapshot endpoints: the latest snapshot, read where the request is handled.
        # An in-process app (no engine_call) runs on the engine's own loop and takes a fresh
        # snapshot first.
        if engine_call is None:
            view.source.publish()
        return fn(*args)

    def answer(fn: Callable[..., Any], *args: Any) -> Response:
        # A snapshot view as JSON, encoded once by json.dumps: the views give plain JSON
        # types, so FastAPI's generic encoder and response validation (several times the cost
        # on large pages, all of it holding the GIL the engine needs) are skipped. The
        # routes' response_model still documents the shape.
        return JSONResponse(read(fn, *args))

    limiter = RateLimiter(settings.rate_limit, settings.rate_window_s)
    app = FastAPI(
        title="tradewind",
        version=__version__,
        description="Control and watchlist API of a running tradewind host (docs/api.md).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.middleware("http")
    async def rate_limit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if budget is not None:
            # Backpressure first: a request waits while the API is over its CPU share. The
            # rate limit then counts it when it goes ahead (429 is for a client's own excess).
            await budget.admit()
        client = request.client.host if request.client else "unknown"
        wait = limiter.allow(client, time.monotonic())
        if wait is not None:
            return JSONResponse(
                {
                    "detail": f"rate limit: {settings.rate_limit} requests per "
                    f"{settings.rate_window_s:g} s per client; retry in {wait:.1f} s"
                },
                status_code=429,
                headers={"Retry-After": str(max(1, int(wait + 0.999)))},
            )
        return await call_next(request)

    def authorized(request: Request) -> None:
        if not check.ok(credential(request.headers.get("authorization"))):
            raise HTTPException(
                401,
                detail="missing or wrong token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer, Basic realm="tradewind"'},
            )

    auth = [Depends(authorized)]

    def fail(exc: ControlError) -> HTTPException:
        return HTTPException(400, detail=str(exc))

    # -- public -----------------------------------------------------------------------------
    @app.get(PREFIX + "/ping", tags=["info"])
    async def ping() -> dict[str, str]:
        """Liveness: answers without the token."""
        return {"status": "pong"}

    # -- documentation and the dashboard (need the token) ---------------------------------
    @app.get("/openapi.json", include_in_schema=False, dependencies=auth)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=auth)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="tradewind API")

    @app.get("/", include_in_schema=False)
    async def dashboard(request: Request) -> HTMLResponse:
        # Without the token the page answers 401 with its login form; the page holds no data
        # and reads everything through the API with the token it is given.
        ok = check.ok(credential(request.headers.get("authorization")))
        return HTMLResponse(dashboard_html(), status_code=200 if ok else 401)

    # -- Freqtrade's read endpoints -------------------------------------------------------
    @app.get(PREFIX + "/version", tags=["info"], dependencies=auth)
    async def version() -> dict[str, str]:
        """The host's tradewind version."""
        return {"version": __version__}

    @app.get(PREFIX + "/health", tags=["info"], dependencies=auth, response_model=dict[str, Any])
    async def health() -> Response:
        """When the engine last processed market data; with a CPU budget, its counters
        (``api_cpu``: share, window, requests admitted and delayed, seconds waited)."""
        if budget is None:
            return answer(view.health)
        return JSONResponse({**read(view.health), "api_cpu": budget.counters()})

    @app.get(
        PREFIX + "/status",
        tags=["trades"],
        dependencies=auth,
        response_model=list[dict[str, Any]],
    )
    async def status() -> Response:
        """Open trades with current price and unrealised profit."""
        return answer(view.status)

    @app.get(PREFIX + "/balance", tags=["money"], dependencies=auth, response_model=dict[str, Any])
    async def balance() -> Response:
        """Cash, positions and equity."""
        return answer(view.balance)

    @app.get(PREFIX + "/count", tags=["trades"], dependencies=auth, response_model=dict[str, Any])
    async def count() -> Response:
        """Open trades against the limit."""
        return answer(view.count)

    @app.get(PREFIX + "/trades", tags=["trades"], dependencies=auth, response_model=dict[str, Any])
    async def trades(
        request: Request, limit: int = Query(500, ge=1, le=5000), offset: int = Query(0, ge=0)
    ) -> Response:
        """Every trade of the session by id, paged. Answers carry an ``ETag``; a request
        whose ``If-None-Match`` names it gets ``304 Not Modified`` without the page."""
        try:
            body, etag = read(view.trades_page_json, limit, offset)
        except NotKept:  # an API process's mirror: the host reads them from its journal
            body = _dumps(await call("trades_page", limit, offset)).encode()
            etag = f'"{hashlib.sha256(body).hexdigest()[:24]}"'

        # no-cache: a client may keep the page but asks again each time (If-None-Match).
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    @app.get(PREFIX + "/trade/{tradeid}", tags=["trades"], dependencies=auth)
    async def trade(tradeid: int) -> dict[str, Any]:
        """One trade."""
        snap = read(lambda: view.snap)
        try:
            t = view.trade_by_id(tradeid, snap)
            found = None if t is None else view.trade_json(t, snap)
        except NotKept:  # an API process's mirror: the host reads it from its journal
            found = await call("trade", tradeid)
        if found is None:
            raise HTTPException(404, detail=f"no trade with id {tradeid}")
        return found  # type: ignore[no-any-return]

    @app.get(PREFIX + "/profit", tags=["money"], dependencies=auth, response_model=dict[str, Any])
    async def profit() -> Response:
        """Profit summary of the session."""
        return answer(view.profit)

    @app.get(
        PREFIX + "/performance",
        tags=["money"],
        dependencies=auth,
        response_model=list[dict[str, Any]],
    )
    async def performance() -> Response:
        """Closed-trade profit per instrument."""
        return answer(view.performance)

    for unit, path, default in (
        ("days", "daily", 7),
        ("weeks", "weekly", 4),
        ("months", "monthly", 3),
    ):

        def make(unit: str = unit, default: int = default) -> Any:
            async def periodic(timescale: int = Query(default, ge=1, le=365)) -> Response:
                return answer(view.periodic, unit, timescale)

            periodic.__doc__ = f"Closed-trade profit per {unit[:-1]}."
            return periodic

        app.get(
            PREFIX + "/" + path,
            tags=["money"],
            dependencies=auth,
            name=path,
            response_model=dict[str, Any],
        )(make())

    @app.get(PREFIX + "/stats", tags=["money"], dependencies=auth, response_model=dict[str, Any])
    async def stats() -> Response:
        """Wins, losses and draws per exit reason; mean durations."""
        return answer(view.stats)

    @app.get(PREFIX + "/logs", tags=["info"], dependencies=auth)
    async def logs(limit: int | None = Query(None, ge=1, le=1000)) -> dict[str, Any]:
        """The host's recent log lines."""
        if view.answers_from_mirror:  # the host's lines, copied with its updates
            return view.logs.page(limit)
        return await call("logs", limit)  # type: ignore[no-any-return]

    @app.get(PREFIX + "/show_config", tags=["info"], dependencies=auth)
    async def show_config() -> dict[str, Any]:
        """The running configuration, secrets shown as their env:NAME references."""
        return await call("show_config")  # type: ignore[no-any-return]

    @app.get(PREFIX + "/pair_candles", tags=["market"], dependencies=auth)
    async def pair_candles(
        pair: str, timeframe: str, limit: int = Query(200, ge=1, le=5000)
    ) -> dict[str, Any]:
        """Recent candles of an instrument with signals, and the analyzers' current values."""
        try:
            tf = parse_timeframe(timeframe)
        except ValueError as exc:
            raise HTTPException(
                422,
                detail=[{"loc": ["query", "timeframe"], "msg": str(exc), "type": "value_error"}],
            ) from None
        out = await call("pair_candles", pair, tf, limit)
        if out is None:
            raise HTTPException(404, detail=f"unknown instrument '{pair}'")
        return out

    # -- Freqtrade's control endpoints ----------------------------------------------------
    @app.post(PREFIX + "/start", tags=["control"], dependencies=auth)
    async def start(request: Request) -> dict[str, str]:
        """Resume trading (entries and exits)."""
        await call("resume", _caller(request))
        return {"status": "starting trader ..."}

    @app.post(PREFIX + "/stop", tags=["control"], dependencies=auth)
    async def stop(request: Request) -> dict[str, str]:
        """End the run after the current batch: the host shuts down (and this API with it)."""
        await call("stop", _caller(request))
        return {"status": "stopping trader ..."}

    async def _pause(request: Request) -> dict[str, str]:
        await call("pause", _caller(request))
        return {
            "status": "paused, no more entries will occur from now. Run /start to enable entries."
        }

    for path in ("pause", "stopentry", "stopbuy"):
        app.post(
            PREFIX + "/" + path,
            tags=["control"],
            dependencies=auth,
            name=path,
            summary="No new entries; exits still run.",
        )(_pause)

    @app.post(PREFIX + "/forceenter", tags=["control"], dependencies=auth)
    async def forceenter(payload: ForceEnterPayload, request: Request) -> dict[str, Any]:
        """Open a position at market (through the order manager)."""
        side = Side.BUY if payload.side == "long" else Side.SELL
        qty = None if payload.stakeamount is None else repr(payload.stakeamount)
        try:
            cid = await call("force_enter", payload.pair, side.value, _caller(request), qty)
        except ControlError as exc:
            raise fail(exc) from None
        return {
            "status": f"force entering {payload.pair} {payload.side}: order {cid} sent",
            "order_id": cid,
        }

    @app.post(PREFIX + "/forceexit", tags=["control"], dependencies=auth)
    async def forceexit(payload: ForceExitPayload, request: Request) -> dict[str, Any]:
        """Close a trade (by id), an instrument's position (by key), or ``all``."""
        tid = str(payload.tradeid)
        target = tid
        if tid.isdigit():
            found = [t for t in read(view.open_trades) if t.trade_id == int(tid)]
            if not found:
                raise HTTPException(400, detail=f"no open trade with id {tid}")
            target = found[0].instrument
        try:
            sent = await call("force_exit", target, _caller(request))
        except ControlError as exc:
            raise fail(exc) from None
        return {
            "result": f"Created exit orders for {', '.join(sent) or 'no open trades'}.",
            "instruments": sent,
        }

    @app.get(PREFIX + "/whitelist", tags=["control"], dependencies=auth)
    async def whitelist() -> dict[str, Any]:
        """Instruments that may take entries now."""
        return await call("whitelist")  # type: ignore[no-any-return]

    @app.get(PREFIX + "/blacklist", tags=["control"], dependencies=auth)
    async def blacklist() -> dict[str, Any]:
        """Instruments refused entries by the operator."""
        return await call("blacklist")  # type: ignore[no-any-return]

    @app.post(PREFIX + "/blacklist", tags=["control"], dependencies=auth)
    async def blacklist_add(payload: BlacklistPayload, request: Request) -> dict[str, Any]:
        """Refuse entries for these instruments."""
        return await call(  # type: ignore[no-any-return]
            "blacklist_add", payload.blacklist, _caller(request)
        )

    @app.delete(PREFIX + "/blacklist", tags=["control"], dependencies=auth)
    async def blacklist_delete(
        request: Request, pairs_to_delete: Annotated[list[str], Query()]
    ) -> dict[str, Any]:
        """Allow entries again for these instruments."""
        return await call(  # type: ignore[no-any-return]
            "blacklist_remove", pairs_to_delete, _caller(request)
        )

    # -- tradewind's own ------------------------------------------------------------------
    @app.get(PREFIX + "/state", tags=["control"], dependencies=auth)
    async def state() -> dict[str, Any]:
        """The trading state (running, paused, stopped) and the run."""
        snap = read(lambda: view.snap)
        return {
            "state": snap.state,
            "mode": view.settings.mode,
            "run_id": snap.run_id,
            "instruments": list(snap.instruments),
        }

    @app.get(PREFIX + "/signals", tags=["strategy"], dependencies=auth)
    async def signals(
        limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0)
    ) -> dict[str, Any]:
        """Signals, newest first, with their reasons."""
        kept = view.kept_page("signals", limit, offset)  # an API process's mirror
        if kept is not None:
            return kept
        return await call("signals", limit, offset)  # type: ignore[no-any-return]

    @app.get(PREFIX + "/vetoes", tags=["strategy"], dependencies=auth)
    async def vetoes(
        limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0)
    ) -> dict[str, Any]:
        """Vetoes, newest first, with the filter and its reason."""
        kept = view.kept_page("vetoes", limit, offset)
        if kept is not None:
            return kept
        return await call("vetoes", limit, offset)  # type: ignore[no-any-return]

    @app.get(
        PREFIX + "/funnel",
        tags=["strategy"],
        dependencies=auth,
        response_model=dict[str, Any],
    )
    async def funnel() -> Response:
        """Candidates at each level of the decision funnel."""
        return answer(view.funnel)

    @app.get(PREFIX + "/fills", tags=["trades"], dependencies=auth)
    async def fills(limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
        """The latest fills, newest first."""
        kept = view.kept_fills(limit)
        if kept is not None:
            return kept
        return await call("fills", limit)  # type: ignore[no-any-return]

    @app.get(PREFIX + "/equity", tags=["money"], dependencies=auth, response_model=dict[str, Any])
    async def equity(points: int = Query(500, ge=1, le=10000)) -> Response:
        """The equity curve."""
        return answer(view.equity, points)

    @app.get(PREFIX + "/plugins", tags=["info"], dependencies=auth)
    async def plugins() -> dict[str, Any]:
        """The plugin instances this host runs."""
        return await call("plugins")  # type: ignore[no-any-return]

    # -- the watchlist --------------------------------------------------------------------
    @app.get(PREFIX + "/watchlist", tags=["watchlist"], dependencies=auth)
    async def watchlist(include_inactive: bool = False) -> dict[str, Any]:
        """Active entries by priority (all entries with ``include_inactive``)."""
        if view.answers_from_mirror:  # an API process's mirror of the host's entries
            out = view.watchlist(include_inactive)  # type: ignore[attr-defined]
            if out is None:
                raise HTTPException(503, detail="the watchlist is not open yet")
            return out  # type: ignore[no-any-return]
        return await call("watchlist", include_inactive)  # type: ignore[no-any-return]

    @app.post(PREFIX + "/watchlist/add", tags=["watchlist"], dependencies=auth)
    async def watchlist_add(payload: WatchlistAdd, request: Request) -> dict[str, Any]:
        """Watch an instrument for ``duration_hours`` (default 24)."""
        try:
            return await call(  # type: ignore[no-any-return]
                "watchlist_add",
                payload.exchange,
                payload.market_type,
                payload.symbol,
                payload.duration_hours,
                payload.priority,
                _caller(request),
            )
        except ControlError as exc:
            raise HTTPException(
                422, detail=[{"loc": ["body", "symbol"], "msg": str(exc), "type": "value_error"}]
            ) from None

    @app.post(PREFIX + "/watchlist/renew", tags=["watchlist"], dependencies=auth)
    async def watchlist_renew(payload: WatchlistKey, request: Request) -> dict[str, Any]:
        """Extend an entry by ``duration_hours`` (default 24) from its expiry."""
        key = payload.key()
        try:
            return await call(  # type: ignore[no-any-return]
                "watchlist_renew", key, _caller(request), payload.duration_hours
            )
        except ControlError as exc:
            raise fail(exc) from None

    @app.delete(PREFIX + "/watchlist/remove", tags=["watchlist"], dependencies=auth)
    async def watchlist_remove(
        request: Request,
        instrument: str | None = None,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> dict[str, Any]:
        """Take an instrument off the watchlist (by ``instrument`` or ``exchange``+``symbol``)."""
        key = WatchlistKey(instrument=instrument, exchange=exchange, symbol=symbol).key()
        try:
            return await call(  # type: ignore[no-any-return]
                "watchlist_remove", key, _caller(request)
            )
        except ControlError as exc:
            raise fail(exc) from None

    @app.get(PREFIX + "/watchlist/top-liquid", tags=["watchlist"], dependencies=auth)
    async def top_liquid(n: int | None = Query(None, ge=1, le=500)) -> dict[str, Any]:
        """The host's instruments ranked by traded quote volume over the last 24 h of market
        time (from the candles the engine built)."""
        limit = n or view.settings.top_n
        return {"top": await call("top_liquid", limit), "window_hours": 24}

    # -- events ---------------------------------------------------------------------------
    @app.websocket(PREFIX + "/ws")
    async def events(ws: WebSocket) -> None:
        """Every bus event as JSON ``{"type", "ts_ns", "severity", "data"}``. The token goes
        in the subprotocol list: ``new WebSocket(url, ["bearer", token])``."""
        offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
        provided = (
            offered[1].encode() if len(offered) == 2 and offered[0] == WS_SUBPROTOCOL else b""
        )
        if not check.ok(provided):
            await ws.close(code=1008)
            return
        await ws.accept(subprotocol=WS_SUBPROTOCOL)
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](1024)
        # The bus publishes on the engine's loop: items cross to this loop thread-safely.
        listener = LoopSender(send, asyncio.get_running_loop())
        view.listeners.append(listener)
        try:
            async with receive:
                async for item in receive:
                    await ws.send_json(item)
        except (WebSocketDisconnect, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        finally:
            if listener in view.listeners:
                view.listeners.remove(listener)
            send.close()

    return app


class LoopSender:
    """A websocket's event stream as the engine's bus sees it: ``send_nowait`` from any
    thread hands the item to the stream's own loop; a client that cannot keep up (its
    buffer full) loses its connection, never an event silently."""

    def __init__(self, send: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.send = send
        self.loop = loop
        self.closed = False

    def send_nowait(self, item: Any) -> None:
        if self.closed:
            raise anyio.ClosedResourceError
        try:
            self.loop.call_soon_threadsafe(self._deliver, item)
        except RuntimeError:  # the API's loop is gone
            self.closed = True
            raise anyio.ClosedResourceError from None

    def _deliver(self, item: Any) -> None:
        try:
            self.send.send_nowait(item)
        except anyio.WouldBlock:
            self.close_now()
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.closed = True

    def close_now(self) -> None:
        self.closed = True
        self.send.close()

    def close(self) -> None:
        """Close the stream (from any thread)."""
        self.closed = True
        try:
            self.loop.call_soon_threadsafe(self.send.close)
        except RuntimeError:
            pass
