"""Local CEX peers for the cross-plugin end-to-end test and the feed-to-order benchmark.

Both servers are the venue plugins' own test servers, imported from the plugins' test folders
(put on ``sys.path`` here), with two additions of this cross-plugin suite:

- :class:`ScriptedFeed` — the cryptofeed plugin's local Binance USD-M (``cryptofeed_stub.
  BinanceStub``: TLS websocket with a self-signed certificate, REST ``exchangeInfo``). Its
  scripts gain ``("trade", Trade)`` — an ``aggTrade`` built here, with the next contiguous
  aggregate id, the send stamped with ``time.perf_counter_ns()`` — and ``("until", predicate,
  timeout_s)``, which holds the stream until ``predicate()`` is true (the run has reacted), so
  what follows is deterministic whatever the machine's speed.
- :class:`LocalUsdm` — the ccxt plugin's local Binance USD-M REST server
  (``ccxt_testserver_binance.BinanceFuturesServer``: every signed request's HMAC-SHA256 is
  verified). It executes MARKET orders itself, as an exchange does, at the price and time of
  the last trade the feed sent (the :class:`Tape` both servers share), and reports the
  execution either in the create response (``fill_mode = "response"``) or, like Binance's
  default ACK response, as an ``ORDER_TRADE_UPDATE`` on the user-data websocket after
  acknowledging the order as NEW (``fill_mode = "stream"``). Every create is logged with the
  client order id and the ``perf_counter_ns`` of its arrival, before anything else is done
  with it; net positions follow the executions (``positionRisk`` starts flat), and so does
  the USDT wallet (realised P&L less commissions), which ``/fapi/v2/account`` reports.
- :class:`LocalSpot` — the ccxt plugin's local Binance spot server
  (``ccxt_testserver_binance_spot.BinanceSpotServer``), executing MARKET orders at the tape's
  last trade, with its account's balances per asset.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from aiohttp import WSMsgType, web

REPO = Path(__file__).resolve().parents[2]
CRYPTOFEED_TESTS = REPO / "plugins" / "venues" / "cryptofeed" / "tests"
CCXT_TESTS = REPO / "plugins" / "venues" / "ccxt" / "tests"
for _folder in (CRYPTOFEED_TESTS, CCXT_TESTS):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from ccxt_testkit import API_KEY, KEY_ENV, SECRET, SECRET_ENV  # noqa: E402
from ccxt_testserver_base import template  # noqa: E402
from ccxt_testserver_binance import BinanceFuturesServer  # noqa: E402
from ccxt_testserver_binance_spot import BinanceSpotServer  # noqa: E402
from cryptofeed_stub import BinanceStub  # noqa: E402

__all__ = [
    "API_KEY",
    "KEY_ENV",
    "SECRET",
    "SECRET_ENV",
    "BinanceSpotServer",
    "Create",
    "LocalSpot",
    "LocalUsdm",
    "ScriptedFeed",
    "Tape",
    "Trade",
    "agg_trade",
    "find_exception",
]

MS = 1_000_000  # nanoseconds per millisecond


@attrs.frozen
class Trade:
    """One scripted trade: exchange time (ms), price, size, aggressor side."""

    ts_ms: int
    price: Decimal
    qty: Decimal
    buy: bool  # the buyer was the aggressor (Binance ``m`` = false)


def agg_trade(symbol: str, agg_id: int, trade: Trade) -> str:
    """A combined-stream ``aggTrade`` message, as Binance USD-M sends it."""
    data = {
        "e": "aggTrade",
        "E": trade.ts_ms + 5,
        "a": agg_id,
        "s": symbol,
        "p": str(trade.price),
        "q": str(trade.qty),
        "f": agg_id * 3,
        "l": agg_id * 3 + 2,
        "T": trade.ts_ms,
        "m": not trade.buy,
    }
    return json.dumps({"stream": f"{symbol.lower()}@aggTrade", "data": data}, separators=(",", ":"))


class Tape:
    """What the feed has sent, shared by the feed and the exchange (they run in one process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last: Trade | None = None
        #: (aggregate id, trade, perf_counter_ns just before the send) of every trade sent.
        self.sent: list[tuple[int, Trade, int]] = []
        #: ``until`` actions that gave up waiting.
        self.timeouts = 0

    def record(self, agg_id: int, trade: Trade, stamp_ns: int) -> None:
        """Note a trade as sent (called before the bytes leave)."""
        with self.lock:
            self.last = trade
            self.sent.append((agg_id, trade, stamp_ns))

    def last_trade(self) -> Trade:
        """The last trade sent (an order can only arrive after one)."""
        with self.lock:
            if self.last is None:
                raise RuntimeError("no trade sent yet: nothing to price a market order at")
            return self.last


class ScriptedFeed(BinanceStub):
    """The cryptofeed plugin's local Binance USD-M, with ``trade`` and ``until`` actions.

    ``ScriptedFeed(folder, tape, symbol="BTCUSDT", first_id=1)``; use as a context manager
    like :class:`BinanceStub`. Actions of a script: ``("trade", Trade)``, ``("until",
    predicate, timeout_s)``, and the stub's ``("send", text)``, ``("wait", s)``,
    ``("close",)``.
    """

    def __init__(
        self, folder: Path, tape: Tape, *, symbol: str = "BTCUSDT", first_id: int = 1
    ) -> None:
        super().__init__(folder)
        self.tape = tape
        self.symbol = symbol
        self.next_id = first_id
        #: Set when a connection's script has run to its end (or raised: see ``error``).
        self.done = threading.Event()
        self.error: BaseException | None = None

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_requests.append(request.query_string)
        self.connections += 1
        self._open.add(ws)
        try:
            try:
                script = self._scripts.get_nowait()
            except queue.Empty:
                script = []
            # Read while the script plays: aiohttp answers the client's pings only while the
            # connection is being read, and cryptofeed drops a connection whose pings go
            # unanswered (a long script would otherwise end in a ping timeout).
            reader = asyncio.get_running_loop().create_task(self._read(ws))
            try:
                closed = await self._play(ws, script)
            except BaseException as exc:
                self.error = exc
                reader.cancel()
                raise
            finally:
                self.done.set()
            if closed:
                reader.cancel()
                return ws
            await reader  # stay open until the client leaves
            return ws
        finally:
            self._open.discard(ws)

    @staticmethod
    async def _read(ws: web.WebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break

    async def _play(self, ws: web.WebSocketResponse, script: list[tuple[Any, ...]]) -> bool:
        """Run ``script``; True when it closed the connection."""
        perf = time.perf_counter_ns
        for action in script:
            kind = action[0]
            if kind == "trade":
                trade: Trade = action[1]
                agg_id = self.next_id
                self.next_id += 1
                text = agg_trade(self.symbol, agg_id, trade)
                self.tape.record(agg_id, trade, perf())
                await ws.send_str(text)
            elif kind == "until":
                predicate: Callable[[], bool] = action[1]
                deadline = time.monotonic() + float(action[2])
                while not predicate():
                    if time.monotonic() > deadline:
                        with self.tape.lock:
                            self.tape.timeouts += 1
                        break
                    await asyncio.sleep(0.0005)
            elif kind == "send":
                await ws.send_str(action[1])
            elif kind == "wait":
                await asyncio.sleep(action[1])
            elif kind == "close":
                await ws.close()
                return True
            else:
                raise ValueError(f"unknown script action {action!r}")
        return False


@attrs.frozen
class Create:
    """One order create the exchange received (HMAC verified), in arrival order."""

    client_order_id: str
    side: str
    type: str
    quantity: str
    reduce_only: bool
    received_ns: int  # time.perf_counter_ns() on arrival, before the signature check
    trades_sent: int  # trades the feed had sent by then


class LocalUsdm(BinanceFuturesServer):
    """The ccxt plugin's local Binance USD-M, executing MARKET orders at the tape's last trade.

    See the module docstring. ``creates_log`` lists every verified create; ``position`` is
    the account's net BTCUSDT-style position per symbol.
    """

    def __init__(self, tape: Tape, *, fill_mode: str = "stream") -> None:
        super().__init__(API_KEY, SECRET)
        if fill_mode not in ("stream", "response"):
            raise ValueError(f"fill_mode must be 'stream' or 'response', got {fill_mode!r}")
        self.tape = tape
        self.fill_mode = fill_mode
        self.available = Decimal("1000000000")
        #: The USDT wallet balance: realised P&L and commissions move it.
        self.wallet = Decimal("10000")
        self.creates_log: list[Create] = []
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (qty, avg price)
        self.push_errors: list[BaseException] = []
        #: ``userTrades`` requests answered (the plugin reads each execution there).
        self.user_trades_served = 0
        #: ``userTrades`` reads of one order's fills (with ``orderId``), not of the account's.
        self.order_trades_served = 0
        #: MARKET orders are accepted (NEW) but wait for :meth:`release`: in flight.
        self.hold_market = False

    async def create_order(self, request: web.Request) -> web.Response:
        received = time.perf_counter_ns()
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        with self.lock:
            self.creates += 1
            cid = params.get("newClientOrderId") or f"srv-{self._next_id}"
            self.creates_log.append(
                Create(
                    client_order_id=cid,
                    side=params["side"],
                    type=params["type"],
                    quantity=params["quantity"],
                    reduce_only=params.get("reduceOnly") == "true",
                    received_ns=received,
                    trades_sent=len(self.tape.sent),
                )
            )
            if cid in self.orders:
                return web.json_response(
                    {"code": -4116, "msg": "ClientOrderId is duplicated."}, status=400
                )
            last = self.tape.last_trade()
            qty = Decimal(params["quantity"])
            price = Decimal(params.get("price") or last.price)
            if qty * price > self.available:
                return web.json_response(
                    {"code": -2019, "msg": "Margin is insufficient."}, status=400
                )
            self._next_id += 1
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
                time=last.ts_ms,
                updateTime=last.ts_ms,
            )
            self.orders[cid] = order
            market = params["type"] == "MARKET" and not self.hold_market
            if market and self.fill_mode == "response":
                self._execute(cid, last)
            answer = dict(order)
        if market and self.fill_mode == "stream":
            asyncio.get_running_loop().create_task(self._execute_and_push(cid, last))
        return web.json_response(answer)

    def _execute(self, cid: str, at: Trade, qty: Decimal | None = None) -> dict[str, Any]:
        """Fill the order (``qty`` of it; None: all that is left) at ``at``'s price and time
        (the exchange's clock is the tape's, as the engine's candles are); the account's
        position follows. Call under ``lock``."""
        order = self.orders[cid]
        trade = self.fill(cid, str(at.price), None if qty is None else str(qty))
        order["updateTime"] = trade["time"] = at.ts_ms
        trade["maker"] = False  # a market order takes liquidity
        trade["commission"] = str(Decimal(trade["quoteQty"]) * Decimal("0.0005"))
        self.trades[-1] = trade
        qty = Decimal(trade["qty"]) * (1 if order["side"] == "BUY" else -1)
        held, avg = self.positions.get(order["symbol"], (Decimal(0), Decimal(0)))
        total = held + qty
        if held != 0 and (held > 0) != (qty > 0):
            closed = min(abs(held), abs(qty)) * (1 if held > 0 else -1)
            trade["realizedPnl"] = str((at.price - avg) * closed)
            self.wallet += (at.price - avg) * closed
        self.wallet -= Decimal(trade["commission"])
        if total == 0:
            avg = Decimal(0)
        elif held == 0 or (held > 0) == (qty > 0):
            avg = (held * avg + qty * at.price) / total
        self.positions[order["symbol"]] = (total, avg)
        return trade

    async def _execute_and_push(self, cid: str, at: Trade) -> None:
        try:
            with self.lock:
                self._execute(cid, at)
            # push_order_update waits on this loop from its caller's thread: run it in one.
            await asyncio.get_running_loop().run_in_executor(None, self.push_order_update, cid)
        except BaseException as exc:  # reported by the test, never lost in a task
            self.push_errors.append(exc)

    def release(self) -> list[dict[str, Any]]:
        """Execute every held MARKET order at the tape's last trade (no user-stream push: the
        host learns of it by asking); returns the trades."""
        with self.lock:
            held = [
                cid
                for cid, o in self.orders.items()
                if o["type"] == "MARKET" and o["status"] == "NEW"
            ]
            last = self.tape.last_trade()
            return [self._execute(cid, last) for cid in held]

    def book_income(
        self, symbol: str, income: Decimal, time_ms: int, income_type: str = "FUNDING_FEE"
    ) -> dict[str, Any]:
        """Book an income row and move the USDT wallet by it (funding: > 0 received)."""
        row = super().book_income(symbol, income, time_ms, income_type)
        with self.lock:
            self.wallet += income
        return row

    async def user_trades(self, request: web.Request) -> web.Response:
        response = await super().user_trades(request)
        with self.lock:
            self.user_trades_served += 1
            if "orderId" in request.query:
                self.order_trades_served += 1
        return response

    def unrealized(self) -> Decimal:
        """Unrealised P&L of the positions at the tape's last trade. Call under ``lock``."""
        mark = self.tape.last.price if self.tape.last else None
        return sum(
            ((mark - avg) * qty for qty, avg in self.positions.values() if mark is not None),
            Decimal(0),
        )

    async def account(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        body = template("binance_futures_account_v2.json")
        with self.lock:
            wallet, pnl = self.wallet, self.unrealized()
        asset = body["assets"][0]
        asset.update(
            walletBalance=str(wallet),
            unrealizedProfit=str(pnl),
            marginBalance=str(wallet + pnl),
            crossWalletBalance=str(wallet),
            availableBalance=str(wallet + pnl),
            maxWithdrawAmount=str(wallet),
            updateTime=int(time.time() * 1000),
        )
        body["assets"] = [asset]
        body["positions"] = []
        body.update(
            totalWalletBalance=str(wallet),
            totalUnrealizedProfit=str(pnl),
            totalMarginBalance=str(wallet + pnl),
            availableBalance=str(wallet + pnl),
        )
        return web.json_response(body)

    async def position_risk(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        row = template("binance_futures_position_risk.json")[0]
        out = []
        with self.lock:
            mark = self.tape.last.price if self.tape.last else None
            for symbol, (qty, avg) in self.positions.items():
                pnl = (mark - avg) * qty if mark is not None else Decimal(0)
                out.append(
                    {
                        **row,
                        "symbol": symbol,
                        "positionAmt": str(qty),
                        "entryPrice": str(avg),
                        "breakEvenPrice": str(avg),
                        "markPrice": str(self.tape.last.price if self.tape.last else avg),
                        "unRealizedProfit": str(pnl),
                        "notional": "0",
                    }
                )
        return web.json_response(out)


class LocalSpot(BinanceSpotServer):
    """The ccxt plugin's local Binance spot, executing MARKET orders at the tape's last trade
    (its price and time), with a USDT balance of 10,000 to start."""

    def __init__(self, tape: Tape) -> None:
        super().__init__(API_KEY, SECRET, balances={"USDT": Decimal("10000")})
        self.tape = tape

    def market_price(self) -> Decimal:
        return self.tape.last_trade().price

    def market_time_ms(self) -> int:
        return self.tape.last_trade().ts_ms


def find_exception(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first exception of type ``kind`` inside (nested) exception groups."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            hit = find_exception(inner, kind)
            if hit is not None:
                return hit
    return None
