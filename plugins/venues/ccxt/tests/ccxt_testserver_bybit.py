"""Bybit v5 REST (linear perpetuals), as much as ccxt's bybit uses, verified for real.

Every private request carries ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``,
``X-BAPI-RECV-WINDOW`` and ``X-BAPI-SIGN``; the signature must be the HMAC-SHA256 of
``timestamp + api_key + recv_window + payload`` (the raw query string of a GET, the raw JSON
body of a POST) under the test secret. Failures answer like Bybit: HTTP 200 with
``retCode`` 10003 (key) or 10004 (signature). Shapes come from ``resources/http``.
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
from ccxt_testserver_base import ThreadedServer, template


def _answer(result: Any, code: int = 0, msg: str = "OK") -> web.Response:
    return web.json_response(
        {
            "retCode": code,
            "retMsg": msg,
            "result": result,
            "retExtInfo": {},
            "time": int(time.time() * 1000),
        }
    )


class BybitLinearServer(ThreadedServer):
    """A one-account Bybit unified account trading linear perpetuals."""

    def __init__(self, api_key: str, secret: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.secret = secret
        self.orders: dict[str, dict[str, Any]] = {}  # by orderLinkId
        self.executions: list[dict[str, Any]] = []
        self.creates = 0
        self.bad_signatures = 0
        self.delay_next_create_s = 0.0
        self.available = Decimal("1000.50")  # USDT walletBalance of the recorded wallet
        self._next_id = 5000

    async def _params(self, request: web.Request) -> dict[str, Any] | web.Response:
        body = await request.text()
        if request.headers.get("X-BAPI-API-KEY") != self.api_key:
            return _answer({}, 10003, "API key is invalid.")
        ts = request.headers.get("X-BAPI-TIMESTAMP", "")
        window = request.headers.get("X-BAPI-RECV-WINDOW", "")
        payload = body if request.method == "POST" else request.query_string
        expected = hmac.new(
            self.secret.encode(), (ts + self.api_key + window + payload).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-BAPI-SIGN", ""), expected):
            with self.lock:
                self.bad_signatures += 1
            return _answer({}, 10004, "error sign! origin_string[...]")
        params: dict[str, Any] = dict(request.query)
        if body:
            params.update(json.loads(body))
        return params

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v5/market/instruments-info", self.instruments)
        r.add_get("/v5/market/time", self.server_time)
        r.add_post("/v5/order/create", self.create_order)
        r.add_get("/v5/order/realtime", self.realtime)
        r.add_get("/v5/order/history", self.realtime)
        r.add_post("/v5/order/cancel", self.cancel_order)
        r.add_get("/v5/execution/list", self.execution_list)
        r.add_get("/v5/account/wallet-balance", self.wallet_balance)
        r.add_get("/v5/position/list", self.positions)

    async def instruments(self, request: web.Request) -> web.Response:
        body = template("bybit_instruments_linear.json")
        if request.query.get("category") != "linear":
            body["result"]["list"] = []
        return web.json_response(body)

    async def server_time(self, request: web.Request) -> web.Response:
        now = time.time()
        return _answer({"timeSecond": str(int(now)), "timeNano": str(int(now * 1e9))})

    async def wallet_balance(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        return web.json_response(template("bybit_wallet_balance.json"))

    async def positions(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        return web.json_response(template("bybit_positions.json"))

    async def create_order(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            self.creates += 1
            link = params.get("orderLinkId") or f"srv-{self._next_id}"
            if link in self.orders:
                return _answer({}, 10005, "duplicate orderLinkId")
            qty = Decimal(params["qty"])
            price = Decimal(params.get("price") or "50000")
            if qty * price > self.available:
                return _answer({}, 110007, "ab not enough for new order")
            self._next_id += 1
            now = str(int(time.time() * 1000))
            order = template("bybit_orders_realtime.json")["result"]["list"][0]
            order.update(
                orderId=f"bybit-{self._next_id}",
                orderLinkId=link,
                symbol=params["symbol"],
                price=params.get("price", "0"),
                qty=params["qty"],
                side=params["side"],
                orderStatus="New",
                avgPrice=None,
                leavesQty=params["qty"],
                cumExecQty="0",
                cumExecValue="0",
                cumExecFee="0",
                timeInForce=params.get("timeInForce", "GTC"),
                orderType=params["orderType"],
                reduceOnly=bool(params.get("reduceOnly", False)),
                createdTime=now,
                updatedTime=now,
            )
            self.orders[link] = order
            delay, self.delay_next_create_s = self.delay_next_create_s, 0.0
            answer = {"orderId": order["orderId"], "orderLinkId": link}
        if delay:
            await asyncio.sleep(delay)
        return _answer(answer)

    def _select(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        link, oid = params.get("orderLinkId"), params.get("orderId")
        out = []
        for order in self.orders.values():
            if link and order["orderLinkId"] != link:
                continue
            if oid and order["orderId"] != oid:
                continue
            if params.get("symbol") and order["symbol"] != params["symbol"]:
                continue
            out.append(dict(order))
        return out

    async def realtime(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            found = self._select(params)
            if not (params.get("orderLinkId") or params.get("orderId")):
                # Without an id: open orders only (Bybit's openOnly=0 default).
                found = [o for o in found if o["orderStatus"] in ("New", "PartiallyFilled")]
        return _answer({"list": found, "nextPageCursor": "", "category": "linear"})

    async def cancel_order(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            found = self._select(params)
            if not found or found[0]["orderStatus"] not in ("New", "PartiallyFilled"):
                return _answer({}, 110001, "order not exists or too late to cancel")
            order = self.orders[found[0]["orderLinkId"]]
            order["orderStatus"] = "Cancelled"
            order["updatedTime"] = str(int(time.time() * 1000))
            return _answer({"orderId": order["orderId"], "orderLinkId": order["orderLinkId"]})

    async def execution_list(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            found = [
                dict(e)
                for e in self.executions
                if params.get("orderId") in (None, e["orderId"])
                and params.get("symbol") in (None, e["symbol"])
            ]
        return _answer({"list": found, "nextPageCursor": "", "category": "linear"})

    def fill(self, link: str, price: str, qty: str | None = None) -> dict[str, Any]:
        """Execute (part of, with ``qty``) a resting order as maker at ``price``; returns the
        execution."""
        with self.lock:
            order = self.orders[link]
            total = Decimal(order["qty"])
            done = Decimal(order.get("cumExecQty") or "0")
            q = Decimal(qty) if qty is not None else total - done
            p = Decimal(price)
            now = str(int(time.time() * 1000))
            fee = q * p * Decimal("0.0002")
            cum = done + q
            value = Decimal(order.get("cumExecValue") or "0") + q * p
            order.update(
                orderStatus="Filled" if cum >= total else "PartiallyFilled",
                avgPrice=str(value / cum),
                leavesQty=str(total - cum),
                cumExecQty=str(cum),
                cumExecValue=str(value),
                cumExecFee=str(Decimal(order.get("cumExecFee") or "0") + fee),
                updatedTime=now,
            )
            execution = template("bybit_executions.json")["result"]["list"][0]
            self._next_id += 1
            execution.update(
                symbol=order["symbol"],
                orderId=order["orderId"],
                orderLinkId=link,
                side=order["side"],
                orderPrice=order["price"],
                orderQty=order["qty"],
                leavesQty=str(total - cum),
                execFee=str(fee),
                execId=f"exec-{self._next_id}",
                execPrice=str(p),
                execQty=str(q),
                execValue=str(q * p),
                execTime=now,
                feeCurrency="USDT",
                isMaker=True,
                feeRate="0.0002",
            )
            self.executions.append(execution)
            return dict(execution)

    def create_count(self) -> int:
        """Order creates the server has seen."""
        with self.lock:
            return self.creates
