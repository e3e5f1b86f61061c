"""Binance spot REST (``/api/v3``), as much as ccxt's ``binance`` uses, with a real account.

The same signature checks as the USD-M server (``X-MBX-APIKEY``, HMAC-SHA256 of the total
parameters). It keeps one account's balances per asset and executes orders against them the
way Binance spot does:

- a MARKET order fills at once, in full, at :attr:`BinanceSpotServer.price` (the create's
  ``FULL`` response carries the fill); a LIMIT order rests until :meth:`fill` executes it;
- a buy pays ``quantity × price`` of the quote asset and receives the base asset; a sell the
  reverse; an order the balances cannot pay is refused with Binance's ``-2010``;
- the commission is charged in the asset received (Binance's default without BNB): a buy's
  in the base asset (so the account receives ``quantity - commission``), a sell's in the
  quote asset; ``commission_asset`` overrides it (e.g. ``"BNB"``, taken from that balance);
- ``myTrades`` lists every execution with its commission and ``commissionAsset``.

Response shapes are the recorded payloads in ``resources/http`` (see SOURCES.md).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from aiohttp import web
from ccxt_testserver_base import template
from ccxt_testserver_binance import BinanceFuturesServer


class BinanceSpotServer(BinanceFuturesServer):
    """A one-account Binance spot exchange (BTCUSDT and the recorded second market)."""

    def __init__(
        self,
        api_key: str,
        secret: str,
        *,
        balances: dict[str, Decimal] | None = None,
        fee_rate: Decimal = Decimal("0.001"),
        commission_asset: str | None = None,
    ) -> None:
        super().__init__(api_key, secret)
        #: The account's free balance per asset.
        self.balances: dict[str, Decimal] = dict(balances or {"USDT": Decimal("10000")})
        #: Where MARKET orders execute.
        self.price = Decimal("60000")
        self.fee_rate = fee_rate
        self.commission_asset = commission_asset
        #: While True, MARKET orders are accepted (NEW) and wait for :meth:`release`, as on
        #: an exchange whose matching lags: an order in flight.
        self.hold_market = False
        info = template("binance_spot_exchange_info.json")
        self.symbols = {s["symbol"]: s for s in info["symbols"]}

    def market_price(self) -> Decimal:
        """Where a MARKET order executes now (:attr:`price`; subclasses follow a tape)."""
        return self.price

    def market_time_ms(self) -> int:
        """The exchange time of an execution now (the wall clock; subclasses follow a tape)."""
        return int(time.time() * 1000)

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/v3/exchangeInfo", self.exchange_info)
        r.add_get("/api/v3/time", self.server_time)
        r.add_get("/api/v3/ping", self.ping)
        r.add_post("/api/v3/order", self.create_order)
        r.add_get("/api/v3/order", self.query_order)
        r.add_delete("/api/v3/order", self.cancel_order)
        r.add_get("/api/v3/openOrders", self.open_orders)
        r.add_get("/api/v3/myTrades", self.user_trades)
        r.add_get("/api/v3/allOrders", self.all_orders)
        r.add_get("/api/v3/account", self.account)

    async def exchange_info(self, request: web.Request) -> web.Response:
        info = template("binance_spot_exchange_info.json")
        info["serverTime"] = int(time.time() * 1000)
        return web.json_response(info)

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def account(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        body = template("binance_spot_account.json")
        with self.lock:
            body["balances"] = [
                {"asset": asset, "free": str(amount), "locked": "0.00000000"}
                for asset, amount in sorted(self.balances.items())
            ]
        body["updateTime"] = int(time.time() * 1000)
        return web.json_response(body)

    def balance(self, asset: str) -> Decimal:  # type: ignore[override]
        """The account's balance of ``asset``."""
        with self.lock:
            return self.balances.get(asset, Decimal(0))

    async def create_order(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            self.creates += 1
            cid = params.get("newClientOrderId") or f"srv-{self._next_id}"
            if cid in self.orders:
                return web.json_response(
                    {"code": -2010, "msg": "Duplicate order sent."}, status=400
                )
            if "reduceOnly" in params:
                return web.json_response(
                    {
                        "code": -1104,
                        "msg": "Not all sent parameters were read; read 8 "
                        "parameter(s) but was sent 9.",
                    },
                    status=400,
                )
            symbol = params["symbol"]
            market = self.symbols[symbol]
            qty = Decimal(params["quantity"])
            kind = params["type"]
            price = self.market_price() if kind == "MARKET" else Decimal(params["price"])
            base, quote = market["baseAsset"], market["quoteAsset"]
            if params["side"] == "BUY" and self.balances.get(quote, Decimal(0)) < qty * price:
                return self._insufficient()
            if params["side"] == "SELL" and self.balances.get(base, Decimal(0)) < qty:
                return self._insufficient()
            self._next_id += 1
            now = self.market_time_ms()
            order = template("binance_spot_order.json")
            order.update(
                symbol=symbol,
                orderId=self._next_id,
                clientOrderId=cid,
                price=params.get("price", "0.00000000"),
                origQty=params["quantity"],
                executedQty="0.00000000",
                cummulativeQuoteQty="0.00000000",
                status="NEW",
                timeInForce=params.get("timeInForce", "GTC"),
                type=kind,
                side=params["side"],
                time=now,
                updateTime=now,
                workingTime=now,
            )
            self.orders[cid] = order
            fills = []
            if kind == "MARKET" and not self.hold_market:
                trade = self._execute(cid, price, qty)
                fills.append(
                    {
                        "price": trade["price"],
                        "qty": trade["qty"],
                        "commission": trade["commission"],
                        "commissionAsset": trade["commissionAsset"],
                        "tradeId": trade["id"],
                    }
                )
            answer = template("binance_spot_order_full.json")
            answer.update({k: v for k, v in order.items() if k in answer})
            answer.update(transactTime=now, fills=fills, clientOrderId=cid)
        return web.json_response(answer)

    @staticmethod
    def _insufficient() -> web.Response:
        return web.json_response(
            {"code": -2010, "msg": "Account has insufficient balance for requested action."},
            status=400,
        )

    def _execute(self, cid: str, price: Decimal, qty: Decimal) -> dict[str, Any]:
        """Execute ``qty`` of order ``cid`` at ``price``: balances, order, trade. Under lock."""
        order = self.orders[cid]
        market = self.symbols[order["symbol"]]
        base, quote = market["baseAsset"], market["quoteAsset"]
        buy = order["side"] == "BUY"
        notional = price * qty
        received, amount = (base, qty) if buy else (quote, notional)
        fee_asset = self.commission_asset or received
        fee = (amount * self.fee_rate).quantize(Decimal("0.00000001"))
        sign = 1 if buy else -1
        self.balances[base] = self.balances.get(base, Decimal(0)) + sign * qty
        self.balances[quote] = self.balances.get(quote, Decimal(0)) - sign * notional
        self.balances[fee_asset] = self.balances.get(fee_asset, Decimal(0)) - fee
        done = Decimal(order["executedQty"]) + qty
        order["executedQty"] = str(done)
        order["cummulativeQuoteQty"] = str(Decimal(order["cummulativeQuoteQty"]) + notional)
        order["status"] = "FILLED" if done >= Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = self.market_time_ms()
        self._next_id += 1
        trade = template("binance_spot_my_trades.json")[0]
        trade.update(
            symbol=order["symbol"],
            id=self._next_id,
            orderId=order["orderId"],
            price=str(price),
            qty=str(qty),
            quoteQty=str(notional),
            commission=str(fee),
            commissionAsset=fee_asset,
            time=order["updateTime"],
            isBuyer=buy,
            isMaker=order["type"] != "MARKET",
        )
        self.trades.append(trade)
        return dict(trade)

    def release(self) -> list[dict[str, Any]]:
        """Execute every held MARKET order at the market price now; returns the trades."""
        with self.lock:
            held = [
                cid
                for cid, o in self.orders.items()
                if o["type"] == "MARKET" and o["status"] == "NEW"
            ]
            price = self.market_price()
            return [self._execute(cid, price, Decimal(self.orders[cid]["origQty"])) for cid in held]

    def fill(self, client_order_id: str, price: str, qty: str | None = None) -> dict[str, Any]:
        """Execute (part of) a resting order at ``price``; returns the trade."""
        with self.lock:
            order = self.orders[client_order_id]
            left = Decimal(order["origQty"]) - Decimal(order["executedQty"])
            return self._execute(
                client_order_id, Decimal(price), Decimal(qty) if qty is not None else left
            )

    async def cancel_order(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            order = self._find(params)
            if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                return web.json_response({"code": -2011, "msg": "Unknown order sent."}, status=400)
            order["status"] = "CANCELED"
            order["updateTime"] = int(time.time() * 1000)
            return web.json_response(dict(order))

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
