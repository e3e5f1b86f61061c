"""Binance USDⓈ-M futures REST (``/fapi``), as much as ccxt's binanceusdm uses, verified for real.

Every signed request (``X-MBX-APIKEY`` header, ``timestamp`` and ``signature`` parameters) is
checked: the key must be the test key and the signature the HMAC-SHA256 of the total
parameters (query string followed by body, without the signature) under the test secret.
Failures answer with Binance's own error JSON (``-2015``, ``-1022``). Response shapes are the
recorded payloads in ``resources/http`` (see SOURCES.md), with the order's fields filled in.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any

from aiohttp import web
from ccxt_testserver_base import ThreadedServer, template, template_ws


def _split_signature(text: str) -> tuple[str, str | None]:
    """``text`` without its ``signature=`` parameter, and that signature."""
    kept, sig = [], None
    for part in text.split("&") if text else []:
        if part.startswith("signature="):
            sig = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), sig


#: An ORDER_TRADE_UPDATE's execution type (``x``) by the order's status (``X``).
_EXECUTION_TYPE = {
    "FILLED": "TRADE",
    "PARTIALLY_FILLED": "TRADE",
    "CANCELED": "CANCELED",
    "EXPIRED": "EXPIRED",
}


class BinanceFuturesServer(ThreadedServer):
    """A one-account Binance USDⓈ-M exchange with resting orders filled on demand."""

    def __init__(self, api_key: str, secret: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.secret = secret
        self.orders: dict[str, dict[str, Any]] = {}  # by clientOrderId
        self.trades: list[dict[str, Any]] = []
        self.creates = 0
        self.bad_signatures = 0
        self.delay_next_create_s = 0.0
        self.available = Decimal(template("binance_futures_balance.json")[0]["availableBalance"])
        self._next_id = 1000
        self.streams: list[web.WebSocketResponse] = []
        #: Public market streams (``/public/ws/<n>``) and the stream names each subscribed
        #: (``btcusdt@trade``), kept as Binance does: SUBSCRIBE adds, UNSUBSCRIBE removes.
        self.market_streams: dict[web.WebSocketResponse, set[str]] = {}
        #: Every SUBSCRIBE/UNSUBSCRIBE request received: ``(method, params)``.
        self.market_requests: list[tuple[str, list[str]]] = []
        self._next_trade_id = 5933014
        #: Public aggregate trades served by /fapi/v1/aggTrades, in Binance's JSON shape
        #: (``a`` id, ``p`` price, ``q`` qty, ``f``/``l`` first/last trade id, ``T`` ms,
        #: ``m`` buyer is maker), sorted by ``a``.
        self.agg_trades: list[dict[str, Any]] = []
        #: The aggTrades request numbers (1-based) answered with HTTP 503, to interrupt a
        #: download part-way.
        self.fail_agg_requests: set[int] = set()
        self.agg_requests: list[dict[str, str]] = []
        self.listen_key_value = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
        # -- fault switches (set under ``lock``) --
        #: Answers given to the next creates instead of processing them, in order:
        #: ``(http status, body, headers)``; the order is NOT created (429, 418, -1021, 500).
        self.create_faults: list[tuple[int, Any, dict[str, str]]] = []
        #: Orders created from now on are invisible to every lookup (by id, open orders, all
        #: orders) for this many seconds: Binance's -2013 "does not exist" under load.
        self.hide_new_orders_s = 0.0
        self._hidden_until: dict[str, float] = {}
        #: The next create answers 200 with a body that is not an order; nothing is created.
        self.malformed_next_create = False
        #: MARKET orders fill at once, at this price (as on the exchange).
        self.market_fill_price: str | None = None
        #: ORDER_TRADE_UPDATE messages are not sent (a websocket update lost).
        self.drop_ws_updates = False
        #: Time of each create request received (monotonic), faults included.
        self.create_times: list[float] = []
        #: Answers given to the next cancels instead of processing them (the order stays
        #: open), as ``create_faults``; and the time of each cancel request received.
        self.cancel_faults: list[tuple[int, Any, dict[str, str]]] = []
        self.cancel_times: list[float] = []
        #: Answers given to the next lookups of one order (``GET /fapi/v1/order``) instead
        #: of reading the book, as ``create_faults`` (a -2013 under load, an HTTP 500).
        self.query_faults: list[tuple[int, Any, dict[str, str]]] = []
        #: The account's income history served by /fapi/v1/income (Binance's shape:
        #: ``symbol``, ``incomeType``, ``income``, ``asset``, ``info``, ``time``, ``tranId``,
        #: ``tradeId``), in booking order; :meth:`book_income` adds to it.
        self.income: list[dict[str, Any]] = []

    # -- auth -----------------------------------------------------------------------------
    async def _params(self, request: web.Request, signed: bool) -> dict[str, str] | web.Response:
        body = await request.text()
        params = dict(request.query)
        if body:
            from urllib.parse import parse_qsl

            params.update(dict(parse_qsl(body)))
        if not signed:
            return params
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return web.json_response(
                {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
                status=401,
            )
        query, sig_q = _split_signature(request.query_string)
        body_wo, sig_b = _split_signature(body)
        signature = sig_q or sig_b
        expected = hmac.new(
            self.secret.encode(), (query + body_wo).encode(), hashlib.sha256
        ).hexdigest()
        if signature is None or not hmac.compare_digest(signature, expected):
            with self.lock:
                self.bad_signatures += 1
            return web.json_response(
                {"code": -1022, "msg": "Signature for this request is not valid."}, status=400
            )
        if "timestamp" not in params:
            return web.json_response(
                {"code": -1102, "msg": "Mandatory parameter 'timestamp' was not sent."},
                status=400,
            )
        return params

    # -- routes ---------------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/fapi/v1/exchangeInfo", self.exchange_info)
        r.add_get("/fapi/v1/time", self.server_time)
        r.add_get("/fapi/v1/premiumIndex", self.premium_index)
        r.add_post("/fapi/v1/order", self.create_order)
        r.add_get("/fapi/v1/order", self.query_order)
        r.add_delete("/fapi/v1/order", self.cancel_order)
        r.add_get("/fapi/v1/openOrders", self.open_orders)
        r.add_get("/fapi/v1/allOrders", self.all_orders)
        r.add_get("/fapi/v1/userTrades", self.user_trades)
        r.add_get("/fapi/v2/balance", self.balance)
        r.add_get("/fapi/v2/account", self.account)
        r.add_get("/fapi/v3/account", self.account)
        r.add_get("/fapi/v2/positionRisk", self.position_risk)
        r.add_get("/fapi/v3/positionRisk", self.position_risk)
        r.add_get("/fapi/v1/leverageBracket", self.leverage_bracket)
        r.add_get("/fapi/v1/aggTrades", self.agg_trades_list)
        r.add_get("/fapi/v1/income", self.income_history)
        r.add_post("/fapi/v1/listenKey", self.listen_key)
        r.add_put("/fapi/v1/listenKey", self.listen_key)
        r.add_get("/private/ws", self.user_stream)
        r.add_get("/public/ws/{stream}", self.market_stream)

    async def agg_trades_list(self, request: web.Request) -> web.Response:
        """Compressed/aggregate trades, paged as Binance does: ``fromId`` (trades from that
        id on), or ``startTime``/``endTime`` (inclusive, at most one hour apart), else the
        most recent; ``limit`` default 500, at most 1000."""
        params = dict(request.query)
        with self.lock:
            self.agg_requests.append(params)
            n = len(self.agg_requests)
            if n in self.fail_agg_requests:
                return web.json_response(
                    {"code": -1001, "msg": "Internal error; unable to process your request."},
                    status=503,
                )
            trades = list(self.agg_trades)
        limit = min(int(params.get("limit", 500)), 1000)
        if "fromId" in params:
            start = int(params["fromId"])
            out = [t for t in trades if t["a"] >= start][:limit]
        elif "startTime" in params or "endTime" in params:
            lo = int(params.get("startTime", 0))
            hi = int(params.get("endTime", lo + 3_600_000))
            if hi - lo > 3_600_000:
                return web.json_response(
                    {"code": -1127, "msg": "More than 1 hours between startTime and endTime."},
                    status=400,
                )
            out = [t for t in trades if lo <= t["T"] <= hi][:limit]
        else:
            out = trades[-limit:]
        return web.json_response(out)

    async def exchange_info(self, request: web.Request) -> web.Response:
        return web.json_response(template("binance_futures_exchange_info.json"))

    async def server_time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def premium_index(self, request: web.Request) -> web.Response:
        body = template("binance_futures_premium_index.json")
        body["symbol"] = request.query.get("symbol", body["symbol"])
        return web.json_response(body)

    async def balance(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        return web.json_response(template("binance_futures_balance.json"))

    async def account(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        return web.json_response(template("binance_futures_account_v2.json"))

    async def position_risk(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        return web.json_response(template("binance_futures_position_risk.json"))

    async def leverage_bracket(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        return web.json_response(template("binance_futures_leverage_bracket.json"))

    async def listen_key(self, request: web.Request) -> web.Response:
        # USER_STREAM security: the API key header only, no signature.
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return web.json_response(
                {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
                status=401,
            )
        return web.json_response({"listenKey": self.listen_key_value})

    async def user_stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if request.query.get("listenKey") != self.listen_key_value:
            await ws.close(code=4001, message=b"invalid listenKey")
            return ws
        with self.lock:
            self.streams.append(ws)
        async for _msg in ws:  # the user stream is one-way; keep reading until closed
            pass
        return ws

    async def market_stream(self, request: web.Request) -> web.WebSocketResponse:
        """Binance's public market websocket: JSON SUBSCRIBE/UNSUBSCRIBE requests, each
        answered ``{"result": null, "id": ...}``; :meth:`push_trade` sends to subscribers."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        with self.lock:
            self.market_streams[ws] = set()
        try:
            async for msg in ws:
                if msg.type != web.WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                method, params = req.get("method"), list(req.get("params") or [])
                with self.lock:
                    self.market_requests.append((method, params))
                    names = self.market_streams[ws]
                    if method == "SUBSCRIBE":
                        names.update(params)
                    elif method == "UNSUBSCRIBE":
                        names.difference_update(params)
                await ws.send_json({"result": None, "id": req.get("id")})
        finally:
            with self.lock:
                self.market_streams.pop(ws, None)
        return ws

    def drop_market_streams(self) -> int:
        """Close every public market connection (the exchange dropping them); how many."""
        with self.lock:
            open_ = [w for w in self.market_streams if not w.closed]
        assert self.loop is not None
        for ws in open_:
            asyncio.run_coroutine_threadsafe(ws.close(), self.loop).result(5)
        return len(open_)

    def subscribed(self) -> set[str]:
        """The public stream names subscribed on any connection now."""
        with self.lock:
            return set().union(*self.market_streams.values())

    def push_trade(self, symbol: str, price: str, qty: str, *, buyer_maker: bool) -> int:
        """Send one ``<symbol>@trade`` message (the recorded shape) to the connections
        subscribed to it; returns how many received it."""
        name = symbol.lower() + "@trade"
        with self.lock:
            msg = template_ws("binance_futures_trade_stream.json")
            now = int(time.time() * 1000)
            self._next_trade_id += 1
            msg.update(E=now, T=now, s=symbol, t=self._next_trade_id, p=price, q=qty, m=buyer_maker)
            targets = [
                w for w, names in self.market_streams.items() if name in names and not w.closed
            ]
        assert self.loop is not None
        for ws in targets:
            asyncio.run_coroutine_threadsafe(ws.send_json(msg), self.loop).result(5)
        return len(targets)

    def push_order_update(self, client_order_id: str) -> None:
        """Send an ORDER_TRADE_UPDATE of the order's current state, with its last trade, on
        every user stream."""
        with self.lock:
            order = self.orders[client_order_id]
            mine = [t for t in self.trades if t["orderId"] == order["orderId"]]
            trade = mine[-1] if mine else None
            msg = template_ws("binance_futures_order_update_trade.json")
            now = int(time.time() * 1000)
            msg["E"] = msg["T"] = now
            o = msg["o"]
            o.update(
                s=order["symbol"],
                c=client_order_id,
                S=order["side"],
                o=order["type"],
                f=order["timeInForce"],
                q=order["origQty"],
                p=order["price"],
                ap=order["avgPrice"],
                x=_EXECUTION_TYPE.get(order["status"], "NEW"),
                X=order["status"],
                i=order["orderId"],
                l=trade["qty"] if trade else "0",
                z=order["executedQty"],
                L=trade["price"] if trade else "0",
                n=trade["commission"] if trade else "0",
                T=now,
                t=trade["id"] if trade else 0,
                ps="BOTH",
                ot=order["type"],
            )
            streams = [] if self.drop_ws_updates else [w for w in self.streams if not w.closed]
        assert self.loop is not None
        for ws in streams:
            asyncio.run_coroutine_threadsafe(ws.send_json(msg), self.loop).result(5)

    async def create_order(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            self.creates += 1
            self.create_times.append(time.monotonic())
            if self.create_faults:
                status, body, headers = self.create_faults.pop(0)
                return web.json_response(body, status=status, headers=headers)
            if self.malformed_next_create:
                self.malformed_next_create = False
                return web.Response(
                    text='{"orderId": 12', status=200, content_type="application/json"
                )
            cid = params.get("newClientOrderId") or f"srv-{self._next_id}"
            if cid in self.orders and self.orders[cid]["status"] in ("NEW", "PARTIALLY_FILLED"):
                return web.json_response(
                    {"code": -4116, "msg": "ClientOrderId is duplicated."}, status=400
                )
            qty = Decimal(params["quantity"])
            price = Decimal(params.get("price") or "50000")
            if qty * price > self.available:
                return web.json_response(
                    {"code": -2019, "msg": "Margin is insufficient."}, status=400
                )
            self._next_id += 1
            now = int(time.time() * 1000)
            order = template("binance_futures_order.json")
            order.update(
                orderId=self._next_id,
                symbol=params["symbol"],
                status="NEW",
                clientOrderId=cid,
                price=params.get("price", "0"),
                avgPrice="0.00",
                origQty=params["quantity"],
                executedQty="0",
                cumQuote="0",
                timeInForce=params.get("timeInForce", "GTC"),
                type=params["type"],
                origType=params["type"],
                reduceOnly=params.get("reduceOnly") == "true",
                side=params["side"],
                time=now,
                updateTime=now,
            )
            self.orders[cid] = order
            if self.hide_new_orders_s:
                self._hidden_until[cid] = time.monotonic() + self.hide_new_orders_s
            if self.market_fill_price is not None and params["type"] == "MARKET":
                self.fill(cid, self.market_fill_price)
            delay, self.delay_next_create_s = self.delay_next_create_s, 0.0
            answer = dict(order)
        if delay:
            # Accepted, then the answer is late: the client's timeout fires first.
            await asyncio.sleep(delay)
        return web.json_response(answer)

    def _visible(self, order: dict[str, Any]) -> bool:
        until = self._hidden_until.get(order["clientOrderId"])
        return until is None or time.monotonic() >= until

    def _find(self, params: dict[str, str]) -> dict[str, Any] | None:
        cid = params.get("origClientOrderId")
        if cid is not None:
            found = self.orders.get(cid)
            return found if found is not None and self._visible(found) else None
        oid = params.get("orderId")
        for order in self.orders.values():
            if str(order["orderId"]) == oid:
                return order if self._visible(order) else None
        return None

    async def query_order(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            if self.query_faults:
                status, body, headers = self.query_faults.pop(0)
                return web.json_response(body, status=status, headers=headers)
            order = self._find(params)
            if order is None:
                return web.json_response(
                    {"code": -2013, "msg": "Order does not exist."}, status=400
                )
            return web.json_response(dict(order))

    async def cancel_order(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            self.cancel_times.append(time.monotonic())
            if self.cancel_faults:  # answered before anything is done
                status, body, headers = self.cancel_faults.pop(0)
                return web.json_response(body, status=status, headers=headers)
            order = self._find(params)
            if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                return web.json_response({"code": -2011, "msg": "Unknown order sent."}, status=400)
            order["status"] = "CANCELED"
            order["updateTime"] = int(time.time() * 1000)
            return web.json_response(dict(order))

    async def open_orders(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            found = [
                dict(o)
                for o in self.orders.values()
                if o["status"] in ("NEW", "PARTIALLY_FILLED")
                and params.get("symbol") in (None, o["symbol"])
                and self._visible(o)
            ]
        return web.json_response(found)

    async def all_orders(self, request: web.Request) -> web.Response:
        """The account's orders of a symbol (any status) since ``startTime``."""
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        since = int(params.get("startTime", 0))
        with self.lock:
            found = [
                dict(o)
                for o in self.orders.values()
                if o["symbol"] == params.get("symbol") and o["time"] >= since and self._visible(o)
            ]
        return web.json_response(found)

    async def user_trades(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            found = [
                dict(t)
                for t in self.trades
                if t["symbol"] == params.get("symbol")
                and params.get("orderId") in (None, str(t["orderId"]))
                and int(params.get("startTime", 0)) <= t["time"]
                and t["time"] <= int(params.get("endTime", 2**62))
            ]
        return web.json_response(found)

    async def income_history(self, request: web.Request) -> web.Response:
        """``GET /fapi/v1/income``: the account's income, filtered as Binance does by
        ``symbol``, ``incomeType``, ``startTime``/``endTime`` (ms, inclusive) and ``limit``
        (default 100, max 1000), oldest first."""
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        start = int(params.get("startTime", 0))
        end = int(params.get("endTime", 2**63))
        limit = min(int(params.get("limit", 100)), 1000)
        with self.lock:
            found = [
                dict(row)
                for row in self.income
                if params.get("symbol") in (None, row["symbol"])
                and params.get("incomeType") in (None, row["incomeType"])
                and start <= row["time"] <= end
            ]
        return web.json_response(found[:limit])

    # -- test controls --------------------------------------------------------------------
    def book_income(
        self, symbol: str, income: Decimal, time_ms: int, income_type: str = "FUNDING_FEE"
    ) -> dict[str, Any]:
        """Book an income row (``income`` > 0 received, < 0 paid, in USDT) at ``time_ms``;
        returns it. Subclasses that keep a wallet move it too."""
        with self.lock:
            self._next_id += 1
            row = {
                "symbol": symbol,
                "incomeType": income_type,
                "income": str(income),
                "asset": "USDT",
                "info": "",
                "time": time_ms,
                "tranId": self._next_id,
                "tradeId": "",
            }
            self.income.append(row)
        return row

    def fill(self, client_order_id: str, price: str, qty: str | None = None) -> dict[str, Any]:
        """Execute (part of) a resting order as maker at ``price``; returns the trade."""
        with self.lock:
            order = self.orders[client_order_id]
            done = Decimal(order["executedQty"])
            q = Decimal(qty) if qty is not None else Decimal(order["origQty"]) - done
            p = Decimal(price)
            total = done + q
            avg = (Decimal(order["avgPrice"]) * done + p * q) / total
            order["executedQty"] = str(total)
            order["avgPrice"] = str(avg)
            order["cumQuote"] = str(Decimal(order["cumQuote"]) + p * q)
            order["status"] = "FILLED" if total >= Decimal(order["origQty"]) else "PARTIALLY_FILLED"
            order["updateTime"] = int(time.time() * 1000)
            trade = template("binance_futures_user_trades.json")[0]
            self._next_id += 1
            trade.update(
                symbol=order["symbol"],
                id=self._next_id,
                orderId=order["orderId"],
                side=order["side"],
                price=str(p),
                qty=str(q),
                quoteQty=str(p * q),
                commission=str(p * q * Decimal("0.0002")),
                commissionAsset="USDT",
                time=order["updateTime"],
                buyer=order["side"] == "BUY",
                maker=True,
            )
            self.trades.append(trade)
            return dict(trade)

    def place_by_hand(
        self, side: str, qty: str, price: str, symbol: str = "BTCUSDT"
    ) -> dict[str, Any]:
        """An order placed outside the host (the exchange's web page: client id ``web_...``),
        executed at once at ``price``; returns its trade."""
        with self.lock:
            self._next_id += 1
            cid = f"web_{self._next_id}"
            now = int(time.time() * 1000)
            order = template("binance_futures_order.json")
            order.update(
                orderId=self._next_id,
                symbol=symbol,
                status="NEW",
                clientOrderId=cid,
                price="0",
                avgPrice="0.00",
                origQty=qty,
                executedQty="0",
                cumQuote="0",
                timeInForce="GTC",
                type="MARKET",
                origType="MARKET",
                reduceOnly=False,
                side=side,
                time=now,
                updateTime=now,
            )
            self.orders[cid] = order
            return self.fill(cid, price)

    def orders_of(self, symbol: str = "BTCUSDT") -> list[dict[str, Any]]:
        """Every order the exchange holds for ``symbol`` (hidden ones too)."""
        with self.lock:
            return [dict(o) for o in self.orders.values() if o["symbol"] == symbol]

    def trades_of(self, symbol: str = "BTCUSDT") -> list[dict[str, Any]]:
        """Every trade of the account in ``symbol``."""
        with self.lock:
            return [dict(t) for t in self.trades if t["symbol"] == symbol]

    def create_count(self) -> int:
        """Order creates the server has seen."""
        with self.lock:
            return self.creates
