"""The file set of ``tradewind new-plugin venues NAME``: a venue for a tiny JSON-over-HTTP
exchange, with that exchange as a local test server so the generated tests run the venue
conformance and scenario suites over real HTTP. The plugin author replaces the protocol
(schemas, paths, auth) with their exchange's; the shape stays (docs/plugins.md).

Placeholders: ``__NAME__`` (plugin name), ``__CLS__`` (class prefix), ``__PACKAGE__``
(import package), ``__ENV__`` (the API key's environment variable).
"""

from __future__ import annotations

from pathlib import Path

_CONSTANTS = '''"""Fixed facts of the __NAME__ exchange's API (replace with your exchange's)."""

#: The API root used when the config names none.
DEFAULT_BASE_URL = "http://127.0.0.1:8700"
#: The header carrying the API key.
API_KEY_HEADER = "X-API-KEY"
#: Environment variable the API key is read from unless the config names another.
DEFAULT_API_KEY_ENV = "__ENV__"
#: The exchange's order states -> the engine's (tradewind.model.OrderStatus values).
ORDER_STATUS = {
    "open": "accepted",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "cancelled": "cancelled",
    "rejected": "rejected",
}
'''

_CONFIG = '''"""The options of a ``[venues.<instance>]`` table with ``plugin = "__NAME__"``.

Example::

    [venues.__NAME__]
    plugin = "__NAME__"
    base_url = "https://api.example.com"
    api_key = "env:__ENV__"
    symbols = ["BTCUSDT"]
"""

from __future__ import annotations

import attrs
from tradewind.secrets import Secret

from .constants import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL


@attrs.frozen(kw_only=True)
class __CLS__Config:
    """Options of the __NAME__ venue. Secrets are ``env:NAME`` references, never values."""

    #: The exchange's API root (a local test server in this plugin's tests).
    base_url: str = DEFAULT_BASE_URL
    #: ``env:NAME`` of the API key, sent in every request's header.
    api_key: Secret = Secret(DEFAULT_API_KEY_ENV)
    #: Symbols traded, as the exchange names them; empty: every listed instrument.
    symbols: tuple[str, ...] = ()
    #: Seconds between polls of the tracked orders' trades.
    poll_interval_s: float = 0.2
    #: Seconds an HTTP request may take.
    request_timeout_s: float = 10.0
'''

_SCHEMAS = '''"""The __NAME__ exchange's JSON payloads, each with ``to_domain()``.

The engine's model never mirrors a venue's JSON names: parse here, convert here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from tradewind.errors import VenueError
from tradewind.model import Fill, Instrument, InstrumentKind, OrderReport, OrderStatus, Side

from .constants import ORDER_STATUS


def _get(data: Any, key: str, what: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise VenueError(f"__NAME__: {what} payload lacks '{key}': {data!r:.200}")
    return data[key]


def _dec(data: Any, key: str, what: str) -> Decimal:
    return Decimal(str(_get(data, key, what)))


@attrs.frozen
class InstrumentPayload:
    """One entry of ``GET /instruments``."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal
    maker_fee: Decimal
    taker_fee: Decimal

    @classmethod
    def parse(cls, data: Any) -> InstrumentPayload:
        w = "instrument"
        return cls(
            str(_get(data, "symbol", w)), str(_get(data, "base", w)), str(_get(data, "quote", w)),
            _dec(data, "tick_size", w), _dec(data, "lot_size", w), _dec(data, "min_notional", w),
            _dec(data, "maker_fee", w), _dec(data, "taker_fee", w),
        )  # fmt: skip

    def to_domain(self, instance: str) -> Instrument:
        return Instrument(
            venue=instance, symbol=self.symbol, kind=InstrumentKind.SPOT,
            tick_size=self.tick_size, lot_size=self.lot_size, min_notional=self.min_notional,
            maker_fee=self.maker_fee, taker_fee=self.taker_fee, base=self.base, quote=self.quote,
        )  # fmt: skip


@attrs.frozen
class OrderPayload:
    """An order as ``POST /orders``, ``GET /orders/{cid}`` and ``DELETE`` return it."""

    client_order_id: str
    order_id: str
    symbol: str
    status: str
    filled: Decimal
    ts_ms: int

    @classmethod
    def parse(cls, data: Any) -> OrderPayload:
        w = "order"
        status = str(_get(data, "status", w))
        if status not in ORDER_STATUS:
            raise VenueError(f"__NAME__: unknown order status {status!r} in {data!r:.200}")
        return cls(
            str(_get(data, "client_order_id", w)), str(_get(data, "order_id", w)),
            str(_get(data, "symbol", w)), status, _dec(data, "filled", w),
            int(_get(data, "ts_ms", w)),
        )  # fmt: skip

    def to_domain(self, instance: str) -> OrderReport:
        return OrderReport(
            client_order_id=self.client_order_id, instrument=f"{instance}:{self.symbol}",
            status=OrderStatus(ORDER_STATUS[self.status]), ts_ns=self.ts_ms * 1_000_000,
            filled_quantity=self.filled, venue_order_id=self.order_id,
        )  # fmt: skip


@attrs.frozen
class TradePayload:
    """One execution of ``GET /trades``: the fee is in ``fee_currency`` (the bought coin on a
    buy, the quote on a sell)."""

    trade_id: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str
    ts_ms: int

    @classmethod
    def parse(cls, data: Any) -> TradePayload:
        w = "trade"
        return cls(
            str(_get(data, "trade_id", w)), str(_get(data, "client_order_id", w)),
            str(_get(data, "symbol", w)), str(_get(data, "side", w)), _dec(data, "quantity", w),
            _dec(data, "price", w), _dec(data, "fee", w), str(_get(data, "fee_currency", w)),
            str(_get(data, "liquidity", w)), int(_get(data, "ts_ms", w)),
        )  # fmt: skip

    def to_domain(self, instrument: Instrument) -> Fill:
        fee_asset = (
            "base" if self.fee_currency == instrument.base
            else "quote" if self.fee_currency == instrument.quote
            else "other"
        )  # fmt: skip
        return Fill(
            client_order_id=self.client_order_id, instrument=instrument.key,
            side=Side.BUY if self.side == "buy" else Side.SELL, quantity=self.quantity,
            price=self.price, fee=self.fee, ts_ns=self.ts_ms * 1_000_000,
            liquidity=self.liquidity, trade_id=self.trade_id, fee_currency=self.fee_currency,
            fee_asset=fee_asset,
        )  # fmt: skip
'''

_PROVIDERS = '''"""The instruments the __NAME__ exchange lists (``GET /instruments``)."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
from tradewind.errors import VenueError
from tradewind.model import Instrument

from .schemas import InstrumentPayload


async def load_instruments(
    session: aiohttp.ClientSession, instance: str, symbols: Sequence[str]
) -> list[Instrument]:
    """The listed instruments (only ``symbols`` when given) as the engine's model."""
    async with session.get("/instruments") as resp:
        if resp.status != 200:
            raise VenueError(f"__NAME__ answered HTTP {resp.status} to GET /instruments")
        listed = [InstrumentPayload.parse(item) for item in await resp.json()]
    wanted = [p for p in listed if not symbols or p.symbol in symbols]
    missing = set(symbols) - {p.symbol for p in listed}
    if missing:
        raise ValueError(f"__NAME__ does not list {sorted(missing)} @ venues.{instance}.symbols")
    return [p.to_domain(instance) for p in wanted]
'''

_VENUE = '''"""The __NAME__ venue: spot execution and account over the exchange's JSON API.

What the engine calls, per declared capability (tradewind.protocols):

- ``execution``: submit_order (idempotent on client_order_id), cancel_order, fetch_order,
  fetch_open_orders, fetch_positions; reports and fills go to the sink set by set_sink.
- ``account``: fetch_balances, instrument_currencies.
- ``orders:resume``: resume_order (an order sent before a restart delivers its fills).
- ``fills:history``: fetch_fills (executions that happened while disconnected).

Fills reach the sink from a poll loop over the tracked orders' trades, once each (by trade id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import aiohttp
from tradewind.errors import OrderRejectedError, VenueError
from tradewind.model import (
    Fill,
    Instrument,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Position,
    TimeInForce,
)
from tradewind.protocols import EventSink

from .config import __CLS__Config
from .constants import API_KEY_HEADER
from .providers import load_instruments
from .schemas import OrderPayload, TradePayload

log = logging.getLogger(__name__)

#: (type, time in force) pairs the exchange takes: a market order executes at once.
_ORDER_KINDS = {
    (OrderType.MARKET, TimeInForce.GTC),
    (OrderType.MARKET, TimeInForce.IOC),
    (OrderType.LIMIT, TimeInForce.GTC),
}

class __CLS__Venue:
    """Spot orders, balances and fills on the __NAME__ exchange."""

    name: ClassVar[str] = "__NAME__"
    config_class: ClassVar[type] = __CLS__Config
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            "execution", "account", "orders:resume", "fills:history",
            # Order features: what submit_order takes (anything else is refused unsent).
            "order:market", "order:limit", "tif:gtc", "tif:ioc",
        }
    )  # fmt: skip

    def __init__(self, config: __CLS__Config, instance: str = "__NAME__") -> None:
        self.config = config
        self.instance = instance
        self._session: aiohttp.ClientSession | None = None
        self._instruments: dict[str, Instrument] = {}  # by key
        self._sink: EventSink | None = None
        self._tracked: set[str] = set()  # client order ids whose fills are still awaited
        self._delivered: set[str] = set()  # trade ids already sent to the sink
        self._reported: dict[str, tuple[OrderStatus, Decimal]] = {}  # last state sent, by id
        self._poller: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the HTTP session, load the instruments, start polling."""
        self._session = aiohttp.ClientSession(
            base_url=self.config.base_url,
            headers={API_KEY_HEADER: self.config.api_key.reveal()},
            timeout=aiohttp.ClientTimeout(total=self.config.request_timeout_s),
        )
        for inst in await load_instruments(self._session, self.instance, self.config.symbols):
            self._instruments[inst.key] = inst
        self._poller = asyncio.create_task(self._poll())

    async def close(self) -> None:
        """Stop polling, close the session; idempotent."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def instruments(self) -> Sequence[Instrument]:
        """The instruments loaded on connect."""
        return list(self._instruments.values())

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Trade these too (the engine names the instruments of its config)."""
        for inst in instruments:
            self._instruments.setdefault(inst.key, inst)

    def set_sink(self, sink: EventSink) -> None:
        """Where reports, fills and events go."""
        self._sink = sink

    # -- HTTP -----------------------------------------------------------------------------
    async def _request(self, method: str, path: str, **kw: Any) -> Any:
        if self._session is None:
            raise VenueError(f"__NAME__ venue '{self.instance}' is not connected")
        async with self._session.request(method, path, **kw) as resp:
            body = await resp.json(content_type=None)
            if resp.status == 404:
                return None
            if resp.status == 400:
                raise OrderRejectedError(f"__NAME__ refused {method} {path}: {body}")
            if resp.status >= 300:
                raise VenueError(f"__NAME__ answered HTTP {resp.status} to {method} {path}")
            return body

    def _instrument(self, key: str) -> Instrument:
        try:
            return self._instruments[key]
        except KeyError:
            raise VenueError(f"__NAME__ venue '{self.instance}' does not trade {key}") from None

    # -- execution ------------------------------------------------------------------------
    async def submit_order(self, order: Order) -> OrderReport:
        """POST /orders; a resend of a known client order id returns the order as it is."""
        inst = self._instrument(order.instrument)
        if order.reduce_only:
            raise OrderRejectedError(f"{order.client_order_id}: reduce-only is not spot")
        if (order.type, order.time_in_force) not in _ORDER_KINDS:
            raise OrderRejectedError(
                f"{order.client_order_id}: __NAME__ takes market (GTC or IOC) and limit GTC "
                f"orders, not {order.type.value} {order.time_in_force.value}"
            )
        body: dict[str, Any] = {
            "client_order_id": order.client_order_id,
            "symbol": inst.symbol,
            "side": order.side.value,
            "type": "market" if order.type is OrderType.MARKET else "limit",
            "quantity": str(order.quantity),
        }
        if order.price is not None and order.type is not OrderType.MARKET:
            body["price"] = str(order.price)
        self._tracked.add(order.client_order_id)
        data = await self._request("POST", "/orders", json=body)
        return OrderPayload.parse(data).to_domain(self.instance)

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        """DELETE /orders/{cid}."""
        data = await self._request("DELETE", f"/orders/{client_order_id}")
        if data is None:
            raise VenueError(f"__NAME__ does not know order {client_order_id} to cancel")
        return OrderPayload.parse(data).to_domain(self.instance)

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        """GET /orders/{cid}; None when the exchange never saw it."""
        data = await self._request("GET", f"/orders/{client_order_id}")
        return None if data is None else OrderPayload.parse(data).to_domain(self.instance)

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        """GET /orders?status=open."""
        data = await self._request("GET", "/orders", params={"status": "open"})
        return [OrderPayload.parse(item).to_domain(self.instance) for item in data]

    async def fetch_positions(self) -> Sequence[Position]:
        """Spot: the base-asset holdings of the traded instruments."""
        balances = await self.fetch_balances()
        return [
            Position(instrument=key, quantity=balances[inst.base])
            for key, inst in self._instruments.items()
            if balances.get(inst.base, Decimal(0)) != 0
        ]

    # -- account --------------------------------------------------------------------------
    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """GET /balances: total per currency."""
        data = await self._request("GET", "/balances")
        return {currency: Decimal(str(amount)) for currency, amount in data.items()}

    def instrument_currencies(self, symbol: str) -> tuple[str, str]:
        """``(base, quote)`` of a listed symbol."""
        inst = self._instrument(f"{self.instance}:{symbol}")
        return inst.base, inst.quote

    # -- orders:resume and fills:history --------------------------------------------------
    def resume_order(self, order: Order, fills: Sequence[Fill]) -> None:
        """Track an order sent before a restart; ``fills`` were booked already."""
        self._delivered.update(f.trade_id for f in fills)
        self._tracked.add(order.client_order_id)

    async def fetch_fills(self, instrument: str, client_order_id: str) -> Sequence[Fill]:
        """GET /trades?client_order_id=...: every execution of the order."""
        inst = self._instrument(instrument)
        data = await self._request("GET", "/trades", params={"client_order_id": client_order_id})
        return [TradePayload.parse(item).to_domain(inst) for item in data]

    # -- fills to the sink ----------------------------------------------------------------
    async def _poll(self) -> None:
        while True:
            for cid in sorted(self._tracked):
                try:
                    await self._poll_order(cid)
                except (aiohttp.ClientError, asyncio.TimeoutError, VenueError) as exc:
                    log.warning("__NAME__ venue %s: polling order %s failed: %s",
                                self.instance, cid, exc)  # the next poll tries again
            await asyncio.sleep(self.config.poll_interval_s)

    async def _poll_order(self, cid: str) -> None:
        # The order first, then its trades: the exchange records a trade before the order's
        # filled quantity counts it, so trades read after the order include every one that
        # order state counts. The order may move on between the two requests (an order is
        # tracked from before its POST, and a market order executes while it is in flight):
        # then its state is behind the trades, and it is neither reported nor taken as final
        # until a later poll reads the two in agreement. Stopping on a terminal state read
        # ahead of its trades would drop the fills for good.
        data = await self._request("GET", f"/orders/{cid}")
        if data is None:
            return
        report = OrderPayload.parse(data).to_domain(self.instance)
        trades = await self._request("GET", "/trades", params={"client_order_id": cid})
        inst = self._instrument(report.instrument)
        executed = Decimal(0)
        for trade in map(TradePayload.parse, trades):
            executed += trade.quantity
            if trade.trade_id not in self._delivered:
                self._delivered.add(trade.trade_id)
                if self._sink is not None:
                    self._sink.on_fill(trade.to_domain(inst))
        if executed != report.filled_quantity:
            return  # the order moved on between the two requests: read both again next poll
        state = (report.status, report.filled_quantity)
        if self._reported.get(cid) != state and self._sink is not None:
            self._reported[cid] = state
            self._sink.on_report(report)
        if report.status.is_terminal:
            self._tracked.discard(cid)
'''

_PLUGIN = '''"""The entry point of ``__DIST__``: registers :class:`__CLS__Venue`."""

from __future__ import annotations

from tradewind import hookimpl

# A relative import: `tradewind plugins` follows it to read the capabilities without importing.
from .venue import __CLS__Venue


@hookimpl
def tradewind_register_venues(registry):
    """Register the __NAME__ venue."""
    registry.add(__CLS__Venue)
'''

_INSTRUMENTS_JSON = """[
  {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01",
   "lot_size": "0.00001", "min_notional": "5", "maker_fee": "0.001", "taker_fee": "0.001"}
]
"""

_RESOURCES_README = """# Recorded payloads

`http/instruments.json`: the answer of `GET /instruments`, served by `tests/exchange_server.py`
and parsed by `tests/test_plugin.py`. Replace it with a small payload recorded from your
exchange (name its source and licence here). `ws/` holds websocket messages, if your venue
streams.
"""

_SERVER = '''"""A local __NAME__ exchange: the JSON-over-HTTP protocol the venue speaks.

Routes (every request carries the API key header):

- ``GET /instruments``: ``resources/http/instruments.json``
- ``GET /balances``: ``{"BTC": "0", "USDT": "100000"}``
- ``POST /orders``: ``{client_order_id, symbol, side, type, quantity, price?}``; a known
  client order id returns the order as it is; a market order executes at once at ``price``
- ``GET /orders/{cid}``, ``DELETE /orders/{cid}``, ``GET /orders?status=open``
- ``GET /trades?client_order_id=...``

Served on 127.0.0.1, a free port. :meth:`execute` is the test's control: the exchange
executes (part of) a resting order. Fees are ``taker_fee`` of what is bought, charged in
the bought coin.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

INSTRUMENTS = json.loads((Path(__file__).parent / "resources/http/instruments.json").read_text())


class ExchangeServer:
    """The exchange's state and its HTTP API, served from a thread."""

    def __init__(self, api_key: str, price: str = "50000") -> None:
        self.api_key = api_key
        self.price = Decimal(price)
        self.balances = {"BTC": Decimal(0), "USDT": Decimal(100000)}
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.url = ""
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._clock_ms = 1_700_000_000_000

    # -- the exchange ---------------------------------------------------------------------
    def _now(self) -> int:
        self._clock_ms += 1
        return self._clock_ms

    def execute(self, cid: str, price: Decimal | None = None, qty: Decimal | None = None) -> None:
        """Execute ``qty`` (default: the rest) of order ``cid`` at ``price`` (default: its
        limit, else the market)."""
        with self._lock:
            order = self.orders[cid]
            left = Decimal(order["quantity"]) - Decimal(order["filled"])
            qty = left if qty is None else min(qty, left)
            px = price or (Decimal(order["price"]) if order.get("price") else self.price)
            spec = next(i for i in INSTRUMENTS if i["symbol"] == order["symbol"])
            fee_rate = Decimal(spec["taker_fee"])
            base, quote = spec["base"], spec["quote"]
            if order["side"] == "buy":
                fee, fee_ccy = qty * fee_rate, base
                self.balances[base] += qty - fee
                self.balances[quote] -= qty * px
            else:
                fee, fee_ccy = qty * px * fee_rate, quote
                self.balances[base] -= qty
                self.balances[quote] += qty * px - fee
            self.trades.append({
                "trade_id": f"t{next(self._ids)}", "client_order_id": cid,
                "symbol": order["symbol"], "side": order["side"], "quantity": str(qty),
                "price": str(px), "fee": str(fee), "fee_currency": fee_ccy,
                "liquidity": "taker" if order["type"] == "market" else "maker",
                "ts_ms": self._now(),
            })  # fmt: skip
            order["filled"] = str(Decimal(order["filled"]) + qty)
            done = Decimal(order["filled"]) == Decimal(order["quantity"])
            order["status"] = "filled" if done else "partially_filled"

    # -- HTTP -----------------------------------------------------------------------------
    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("X-API-KEY") != self.api_key:
            return web.json_response({"error": "bad API key"}, status=401)
        return await handler(request)

    async def _instruments(self, request: web.Request) -> web.Response:
        return web.json_response(INSTRUMENTS)

    async def _balances(self, request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response({k: str(v) for k, v in self.balances.items()})

    async def _place(self, request: web.Request) -> web.Response:
        body = await request.json()
        cid = body["client_order_id"]
        with self._lock:
            if cid in self.orders:
                return web.json_response(self.orders[cid])
            spec = next((i for i in INSTRUMENTS if i["symbol"] == body["symbol"]), None)
            if spec is None:
                return web.json_response({"error": f"unknown symbol {body['symbol']}"}, status=400)
            qty = Decimal(body["quantity"])
            if body["side"] == "sell" and self.balances[spec["base"]] < qty:
                return web.json_response({"error": "insufficient balance"}, status=400)
            self.orders[cid] = {
                "client_order_id": cid, "order_id": str(next(self._ids)),
                "symbol": body["symbol"], "side": body["side"], "type": body["type"],
                "quantity": body["quantity"], "price": body.get("price"), "filled": "0",
                "status": "open", "ts_ms": self._now(),
            }  # fmt: skip
        if body["type"] == "market":
            self.execute(cid)
        return web.json_response(self.orders[cid])

    async def _get(self, request: web.Request) -> web.Response:
        with self._lock:
            order = self.orders.get(request.match_info["cid"])
            if order is None:
                return web.json_response({"error": "unknown order"}, status=404)
            return web.json_response(order)

    async def _cancel(self, request: web.Request) -> web.Response:
        with self._lock:
            order = self.orders.get(request.match_info["cid"])
            if order is None:
                return web.json_response({"error": "unknown order"}, status=404)
            if order["status"] in ("open", "partially_filled"):
                order["status"] = "cancelled"
            return web.json_response(order)

    async def _open(self, request: web.Request) -> web.Response:
        live = ("open", "partially_filled")
        with self._lock:
            return web.json_response([o for o in self.orders.values() if o["status"] in live])

    async def _trades(self, request: web.Request) -> web.Response:
        cid = request.query.get("client_order_id")
        with self._lock:
            mine = [t for t in self.trades if cid in (None, t["client_order_id"])]
        return web.json_response(mine)

    # -- serving --------------------------------------------------------------------------
    def start(self) -> ExchangeServer:
        """Serve on 127.0.0.1, a free port, from a thread; sets :attr:`url`."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application(middlewares=[self._auth])
            app.add_routes([
                web.get("/instruments", self._instruments), web.get("/balances", self._balances),
                web.post("/orders", self._place), web.get("/orders", self._open),
                web.get("/orders/{cid}", self._get), web.delete("/orders/{cid}", self._cancel),
                web.get("/trades", self._trades),
            ])  # fmt: skip
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            # Serving ends when stop() sets this event: a loop.stop() sent right after start
            # could land before run_forever() and be lost, leaving the thread serving.
            self._stopping = asyncio.Event()
            ready.set()
            await self._stopping.wait()
            await runner.cleanup()

        def run() -> None:
            self._loop.run_until_complete(serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the local __NAME__ exchange did not start within 10 s")
        return self

    def stop(self) -> None:
        """Stop serving and wait for the serving thread to end."""
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        if self._thread.is_alive():
            raise RuntimeError("the local __NAME__ exchange did not stop within 10 s")
'''

_TEST = '''"""Tests of the __NAME__ venue: the core's conformance and scenario suites against the
local exchange (tests/exchange_server.py) over HTTP, and the recorded payloads."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from exchange_server import ExchangeServer
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import VenueConformance
from tradewind.testing.scenarios import VenueScenarios

from __PACKAGE__.config import __CLS__Config
from __PACKAGE__.constants import DEFAULT_API_KEY_ENV
from __PACKAGE__.schemas import InstrumentPayload
from __PACKAGE__.venue import __CLS__Venue

pytest_plugins = "tradewind.testing"

RESOURCES = Path(__file__).parent / "resources"
API_KEY = "test-key-not-secret"


def test_plugin_is_installed():
    assert_plugin_installed("venues", "__NAME__", __CLS__Venue)


def test_the_recorded_instruments_become_the_engines_instruments():
    data = json.loads((RESOURCES / "http" / "instruments.json").read_text())
    inst = InstrumentPayload.parse(data[0]).to_domain("x")
    assert (inst.key, inst.base, inst.quote, inst.lot_size) == (
        "x:BTCUSDT", "BTC", "USDT", Decimal("0.00001"),
    )  # fmt: skip


class _LocalExchange:
    """Starts the local exchange for each test; the API key comes from the environment."""

    @pytest.fixture(autouse=True)
    def _exchange(self, monkeypatch):
        monkeypatch.setenv(DEFAULT_API_KEY_ENV, API_KEY)
        self.server = ExchangeServer(API_KEY).start()
        yield
        self.server.stop()

    def make_config(self):
        return __CLS__Config(base_url=self.server.url, poll_interval_s=0.02)

    async def make_venue(self):
        venue = __CLS__Venue(self.make_config(), instance="__NAME__")
        await venue.connect()
        return venue


class TestConformance(_LocalExchange, VenueConformance):
    plugin_class = __CLS__Venue


class TestSpotScenarios(_LocalExchange, VenueScenarios):
    plugin_class = __CLS__Venue
    market_type = "spot"
    instrument = "__NAME__:BTCUSDT"
    quantity = Decimal("0.01")
    resting_buy_price = Decimal("1000")

    def execute(self, client_order_id, price=None, quantity=None):
        self.server.execute(client_order_id, price, quantity)


def test_an_order_the_exchange_does_not_take_is_refused_unsent(monkeypatch):
    import anyio
    from tradewind.errors import OrderRejectedError
    from tradewind.model import Order, OrderType, Side, TimeInForce

    server = ExchangeServer(API_KEY).start()
    monkeypatch.setenv(DEFAULT_API_KEY_ENV, API_KEY)
    order = Order(
        client_order_id="fok-1", instrument="__NAME__:BTCUSDT", side=Side.BUY,
        type=OrderType.LIMIT, quantity=Decimal("0.01"), price=Decimal("1000"),
        time_in_force=TimeInForce.FOK,
    )  # fmt: skip

    async def go():
        venue = __CLS__Venue(__CLS__Config(base_url=server.url), instance="__NAME__")
        await venue.connect()
        try:
            with pytest.raises(OrderRejectedError, match="not limit fok"):
                await venue.submit_order(order)
        finally:
            await venue.close()

    try:
        anyio.run(go)
        assert server.orders == {}
    finally:
        server.stop()


def test_an_order_executed_between_the_two_requests_of_a_poll_delivers_its_fills(monkeypatch):
    """The exchange may execute an order while a poll reads it (a market order executes while
    its POST is in flight, and the order is tracked from before): its fill still arrives,
    once, and the filled report after it. Here the exchange executes the order right after
    the poll's first request."""
    import anyio
    from tradewind.model import Order, OrderStatus, OrderType, Side, TimeInForce
    from tradewind.testing.scenarios import ScenarioSink

    server = ExchangeServer(API_KEY).start()
    monkeypatch.setenv(DEFAULT_API_KEY_ENV, API_KEY)
    order = Order(
        client_order_id="race-1", instrument="__NAME__:BTCUSDT", side=Side.BUY,
        type=OrderType.LIMIT, quantity=Decimal("0.01"), price=Decimal("1000"),
        time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    sink = ScenarioSink()

    async def go():
        # A poll interval longer than the test: only the polls made below run.
        config = __CLS__Config(base_url=server.url, poll_interval_s=3600)
        venue = __CLS__Venue(config, instance="__NAME__")
        await venue.connect()
        await anyio.sleep(0.05)  # the poll loop found nothing to poll and sleeps
        venue.set_sink(sink)
        try:
            await venue.submit_order(order)
            request = venue._request
            requests = []

            async def request_then_execute(method, path, **kw):
                answer = await request(method, path, **kw)
                requests.append(path)
                if len(requests) == 1:
                    server.execute(order.client_order_id)
                return answer

            monkeypatch.setattr(venue, "_request", request_then_execute)
            for _ in range(3):  # what the poll loop does, three rounds
                for cid in sorted(venue._tracked):
                    await venue._poll_order(cid)
            assert order.client_order_id not in venue._tracked
        finally:
            await venue.close()

    try:
        anyio.run(go)
        assert [(f.trade_id, f.quantity) for f in sink.fills] == [("t2", Decimal("0.01"))]
        assert sink.reports[-1].status is OrderStatus.FILLED
        assert sink.reports[-1].filled_quantity == Decimal("0.01")
    finally:
        server.stop()


def test_a_wrong_api_key_is_refused_and_never_shown(monkeypatch):
    import anyio
    from tradewind.errors import VenueError

    server = ExchangeServer(API_KEY).start()
    monkeypatch.setenv(DEFAULT_API_KEY_ENV, "wrong-key-value")
    config = __CLS__Config(base_url=server.url)
    assert "wrong-key-value" not in repr(config)

    async def go():
        venue = __CLS__Venue(config, instance="__NAME__")
        try:
            await venue.connect()
        finally:
            await venue.close()

    try:
        with pytest.raises(VenueError, match="HTTP 401 to GET /instruments") as info:
            anyio.run(go)
        assert "wrong-key-value" not in str(info.value)
    finally:
        server.stop()
'''

_CONFTEST = '''"""Makes ``exchange_server`` importable from the tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
'''


def write_venue(root: Path, package: str, name: str, cls: str, dist: str) -> None:
    """Write the venue file set under ``root`` (which holds pyproject.toml already)."""
    env = name.upper() + "_API_KEY"
    files = {
        f"src/{package}/constants.py": _CONSTANTS,
        f"src/{package}/config.py": _CONFIG,
        f"src/{package}/schemas.py": _SCHEMAS,
        f"src/{package}/providers.py": _PROVIDERS,
        f"src/{package}/venue.py": _VENUE,
        f"src/{package}/plugin.py": _PLUGIN,
        "tests/exchange_server.py": _SERVER,
        "tests/conftest.py": _CONFTEST,
        "tests/test_plugin.py": _TEST,
        "tests/resources/http/instruments.json": _INSTRUMENTS_JSON,
        "tests/resources/README.md": _RESOURCES_README,
        "tests/resources/ws/.gitkeep": "",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for key, value in (
            ("__PACKAGE__", package), ("__CLS__", cls), ("__NAME__", name),
            ("__ENV__", env), ("__DIST__", dist),
        ):  # fmt: skip
            text = text.replace(key, value)
        path.write_text(text, encoding="utf-8")
