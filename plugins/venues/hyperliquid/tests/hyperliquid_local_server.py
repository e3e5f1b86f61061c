"""A Hyperliquid API on 127.0.0.1 for the tests: it speaks the protocol, it mocks no library.

- ``POST /info`` answers with payloads recorded from the real API (``resources/http``, see
  ``resources/SOURCES.md``) and, for the account's own state (order status, open orders,
  positions, fills), with what its matching engine holds, in the same shapes.
- ``POST /exchange`` recovers the signer's address from each action's EIP-712 signature, with
  the typed data rebuilt here from Hyperliquid's rules (msgpack of the action, nonce, vault
  flag and ``expiresAfter`` hashed into the phantom agent's ``connectionId``; source "a" for
  mainnet, "b" for testnet), and refuses actions not signed by a wallet it knows, with the
  exchange's own words. Orders match against the recorded book.
- ``GET /ws`` replays the recorded trades and book messages and pushes the account's
  ``orderUpdates`` and ``userFills``.

The server runs its own event loop in a thread, so tests that run their own loops (the core's
conformance suite calls ``anyio.run``) reach it like a remote exchange.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypeVar

import msgpack
from aiohttp import WSMsgType, web
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

RESOURCES = Path(__file__).parent / "resources"
T = TypeVar("T")

TAKER_FEE = Decimal("0.00045")
MAKER_FEE = Decimal("0.00015")
USD = Decimal("0.000001")


def load_json(relative: str) -> Any:
    """A recorded JSON payload from ``resources/``."""
    return json.loads((RESOURCES / relative).read_text())


def load_ws_lines(relative: str) -> list[tuple[int, dict[str, Any]]]:
    """A recorded websocket capture: ``(local_ts_ns, message)`` per line."""
    out = []
    for line in (RESOURCES / relative).read_text().splitlines():
        if line.strip():
            ts, raw = line.split(" ", 1)
            out.append((int(ts), json.loads(raw)))
    return out


def recover_l1_signer(
    action: Any,
    nonce: int,
    vault_address: str | None,
    expires_after: int | None,
    signature: dict[str, Any],
    is_mainnet: bool,
) -> str:
    """The address that signed an L1 action, from Hyperliquid's typed-data rules."""
    data = msgpack.packb(action) + nonce.to_bytes(8, "big")
    if vault_address is None:
        data += b"\x00"
    else:
        data += b"\x01" + bytes.fromhex(vault_address.removeprefix("0x"))
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    typed = {
        "domain": {
            "chainId": 1337,
            "name": "Exchange",
            "verifyingContract": "0x0000000000000000000000000000000000000000",
            "version": "1",
        },
        "types": {
            "Agent": [
                {"name": "source", "type": "string"},
                {"name": "connectionId", "type": "bytes32"},
            ],
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
        },
        "primaryType": "Agent",
        "message": {"source": "a" if is_mainnet else "b", "connectionId": keccak(data)},
    }
    message = encode_typed_data(full_message=typed)
    vrs = (signature["v"], int(signature["r"], 16), int(signature["s"], 16))
    return str(Account.recover_message(message, vrs=vrs)).lower()


def _s(d: Decimal) -> str:
    """A decimal as the API writes it: plain, with at least one decimal."""
    text = f"{d.normalize():f}"
    return text if "." in text else text + ".0"


def _valid_price(px: Decimal, sz_decimals: int) -> bool:
    if px <= 0:
        return False
    if px == px.to_integral_value():
        return True
    exp = px.normalize().as_tuple().exponent
    decimals = -exp if isinstance(exp, int) and exp < 0 else 0
    return decimals <= 6 - sz_decimals and len(px.normalize().as_tuple().digits) <= 5


class LocalHyperliquid:
    """The test exchange. ``signers`` maps a signing address to the account it acts for."""

    def __init__(self, *, network: str = "testnet", signers: dict[str, str]) -> None:
        self.is_mainnet = network == "mainnet"
        self.signers = {k.lower(): v.lower() for k, v in signers.items()}
        self.meta = load_json("http/meta.json")
        self.universe = self.meta["universe"]
        self.recorded_mids: dict[str, str] = load_json("http/all_mids.json")
        btc_book = load_ws_lines("ws/btc_l2book_20250126.txt")[0][1]["data"]
        self.books: dict[str, dict[str, Any]] = {
            "BTC": btc_book,
            "DYDX": load_json("http/l2_book_dydx.json"),
        }
        self.funding = {"BTC": load_json("http/funding_history_btc.json")}
        self.trade_messages = [m for _, m in load_ws_lines("ws/btc_trades_20250126.txt")]
        # Matching state (touched only on the server's loop).
        self.orders: list[dict[str, Any]] = []
        self.positions: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        self.fills: dict[str, list[dict[str, Any]]] = {}
        self.leverage: dict[tuple[str, str], tuple[int, bool]] = {}
        self.cash: dict[str, Decimal] = {}
        self.used_nonces: set[tuple[str, int]] = set()
        # What the tests look at.
        self.exchange_requests: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.answers: list[dict[str, Any]] = []
        self.info_requests: list[dict[str, Any]] = []
        # Knobs.
        self.stall_after_accept_s = 0.0
        self.stall_before_accept_s = 0.0
        self.stalls_left = 0
        self.trade_replay_delay_s = 0.0
        self.drop_ws_after_messages: int | None = None
        self.refuse_websockets = False
        self._next_oid = 1_000_000
        self._next_tid = 5_000_000
        self._sockets: dict[web.WebSocketResponse, set[str]] = {}
        self._pushes: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> LocalHyperliquid:
        """Serve on 127.0.0.1, an ephemeral port, in a thread of its own."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="local-hyperliquid", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the local Hyperliquid server did not start")
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/info", self._info)
        app.router.add_post("/exchange", self._exchange)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop from a test's thread and return its result."""
        assert self._loop is not None
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(10)

    # -- inspection (from the tests) --------------------------------------------------------
    def account_orders(self, account: str) -> list[dict[str, Any]]:
        """Every order the exchange recorded for ``account`` (placed or rejected)."""

        async def get() -> list[dict[str, Any]]:
            return [dict(o) for o in self.orders if o["user"] == account.lower()]

        return self.run(get())

    def trade_through(self, coin: str, price: str) -> None:
        """The market trades through ``price``: resting orders beyond it fill as makers."""
        self.run(self._trade_through(coin, Decimal(price)))

    def fill_order(self, cloid: str, qty: str | None = None) -> None:
        """Execute (part of, with ``qty``) a resting order at its limit price, as maker."""

        async def fill() -> None:
            for o in self.orders:
                if o.get("cloid") == cloid and o["status"] == "open":
                    self._fill(
                        o, Decimal(qty) if qty is not None else o["sz"], o["px"], crossed=False
                    )
                    if o["sz"] == 0:
                        o["status"] = "filled"
                    o["statusTimestamp"] = int(time.time() * 1000)
                    self._push_update(o)
                    return
            raise KeyError(f"no open order with cloid {cloid}")

        self.run(fill())

    def drop_websockets(self) -> None:
        """Close every websocket connection (the client should reconnect)."""

        async def drop() -> None:
            for ws in list(self._sockets):
                await ws.close()

        self.run(drop())

    # -- /info ------------------------------------------------------------------------------
    async def _info(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.info_requests.append(body)
        kind = body.get("type")
        user = str(body.get("user", "")).lower()
        if kind == "meta":
            return web.json_response(self.meta)
        if kind == "allMids":
            mids = dict(self.recorded_mids)
            for coin, book in self.books.items():
                bid, ask = Decimal(book["levels"][0][0]["px"]), Decimal(book["levels"][1][0]["px"])
                mids[coin] = _s((bid + ask) / 2)
            return web.json_response(mids)
        if kind == "l2Book":
            return web.json_response(self.books.get(body["coin"]))
        if kind == "fundingHistory":
            start, end = body["startTime"], body.get("endTime") or 2**62
            rows = [r for r in self.funding.get(body["coin"], []) if start <= r["time"] <= end]
            return web.json_response(rows)
        if kind == "orderStatus":
            return web.json_response(self._order_status(user, body["oid"]))
        if kind == "frontendOpenOrders":
            open_ = [o for o in self.orders if o["user"] == user and o["status"] == "open"]
            return web.json_response([self._frontend(o) for o in open_])
        if kind == "clearinghouseState":
            return web.json_response(self._clearinghouse(user))
        if kind == "userFills":
            return web.json_response(list(reversed(self.fills.get(user, []))))
        if kind == "userFillsByTime":
            start, end = body["startTime"], body.get("endTime") or 2**62
            rows = [f for f in self.fills.get(user, []) if start <= f["time"] <= end]
            return web.json_response(rows)
        return web.Response(
            status=422, text="Failed to deserialize the JSON body into the target type"
        )

    def _order_status(self, user: str, oid: int | str) -> dict[str, Any]:
        key = "cloid" if isinstance(oid, str) else "oid"
        found = [o for o in self.orders if o["user"] == user and o.get(key) == oid]
        if not found:
            return {"status": "unknownOid"}
        o = found[-1]
        return {
            "status": "order",
            "order": {
                "order": self._frontend(o),
                "status": o["status"],
                "statusTimestamp": o["statusTimestamp"],
            },
        }

    @staticmethod
    def _frontend(o: dict[str, Any]) -> dict[str, Any]:
        out = {
            "coin": o["coin"],
            "side": o["side"],
            "limitPx": _s(o["px"]),
            "sz": _s(o["sz"]),
            "oid": o["oid"],
            "timestamp": o["timestamp"],
            "triggerCondition": "N/A",
            "isTrigger": False,
            "triggerPx": "0.0",
            "children": [],
            "isPositionTpsl": False,
            "reduceOnly": o["reduceOnly"],
            "orderType": "Limit",
            "origSz": _s(o["origSz"]),
            "tif": o["tif"],
            "cloid": o.get("cloid"),
        }
        return out

    def _clearinghouse(self, user: str) -> dict[str, Any]:
        positions = []
        ntl = Decimal(0)
        for (u, coin), (szi, entry) in self.positions.items():
            if u != user or szi == 0:
                continue
            lev, cross = self.leverage.get((u, coin), (20, True))
            value = abs(szi) * entry
            ntl += value
            positions.append(
                {
                    "position": {
                        "coin": coin,
                        "entryPx": _s(entry),
                        "leverage": {"type": "cross" if cross else "isolated", "value": lev},
                        "liquidationPx": None,
                        "marginUsed": _s((value / lev).quantize(USD)),
                        "positionValue": _s(value),
                        "returnOnEquity": "0.0",
                        "szi": _s(szi),
                        "unrealizedPnl": "0.0",
                    },
                    "type": "oneWay",
                }
            )
        value = self.cash.get(user, Decimal("10000"))
        summary = {
            "accountValue": _s(value),
            "totalMarginUsed": "0.0",
            "totalNtlPos": _s(ntl),
            "totalRawUsd": _s(value),
        }
        return {
            "assetPositions": positions,
            "crossMaintenanceMarginUsed": "0.0",
            "crossMarginSummary": summary,
            "marginSummary": summary,
            "time": int(time.time() * 1000),
            "withdrawable": _s(value),
        }

    # -- /exchange --------------------------------------------------------------------------
    async def _exchange(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.exchange_requests.append(body)
        stall_before = stall_after = 0.0
        if self.stalls_left > 0 and body["action"].get("type") == "order":
            self.stalls_left -= 1
            stall_before, stall_after = self.stall_before_accept_s, self.stall_after_accept_s
        if stall_before:
            await asyncio.sleep(stall_before)
        answer = self._process(body)
        self.answers.append(answer)
        if stall_after:
            await asyncio.sleep(stall_after)
        return web.json_response(answer)

    def _process(self, body: dict[str, Any]) -> dict[str, Any]:
        action, nonce = body["action"], body["nonce"]
        try:
            signer = recover_l1_signer(
                action,
                nonce,
                body.get("vaultAddress"),
                body.get("expiresAfter"),
                body["signature"],
                self.is_mainnet,
            )
        except Exception as exc:  # a malformed signature
            return {"status": "err", "response": f"Invalid signature: {exc}"}
        user = self.signers.get(signer)
        if user is None:
            self.refused.append(signer)
            return {"status": "err", "response": f"User or API Wallet {signer} does not exist."}
        expires = body.get("expiresAfter")
        now = int(time.time() * 1000)
        if expires is not None and now > expires:
            return {
                "status": "err",
                "response": f"Action expired: expiresAfter {expires}, now {now}",
            }
        if (signer, nonce) in self.used_nonces:
            return {"status": "err", "response": f"Invalid nonce: duplicate nonce {nonce}"}
        self.used_nonces.add((signer, nonce))
        kind = action["type"]
        if kind == "order":
            statuses = [self._place(user, wire) for wire in action["orders"]]
            return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
        if kind == "cancelByCloid":
            statuses = [self._cancel(user, c["asset"], c["cloid"]) for c in action["cancels"]]
            return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}
        if kind == "updateLeverage":
            coin = self.universe[action["asset"]]["name"]
            self.leverage[(user, coin)] = (action["leverage"], action["isCross"])
            return {"status": "ok", "response": {"type": "default"}}
        return {"status": "err", "response": f"unsupported action {kind}"}

    def _place(self, user: str, wire: dict[str, Any]) -> dict[str, Any]:
        asset = wire["a"]
        meta = self.universe[asset]
        coin, szd = meta["name"], meta["szDecimals"]
        is_buy, px, sz = wire["b"], Decimal(wire["p"]), Decimal(wire["s"])
        tif = wire["t"]["limit"]["tif"]
        now = int(time.time() * 1000)
        self._next_oid += 1
        order = {
            "user": user,
            "coin": coin,
            "side": "B" if is_buy else "A",
            "px": px,
            "sz": sz,
            "origSz": sz,
            "oid": self._next_oid,
            "cloid": wire.get("c"),
            "tif": tif,
            "reduceOnly": wire["r"],
            "timestamp": now,
            "statusTimestamp": now,
            "status": "open",
        }

        def reject(status: str, text: str) -> dict[str, Any]:
            order["status"] = status
            self.orders.append(order)
            return {"error": f"{text} asset={asset}"}

        if not _valid_price(px, szd):
            return reject("tickRejected", "Price must be divisible by tick size.")
        if sz <= 0 or sz % Decimal(1).scaleb(-szd):
            return reject("rejected", "Order has invalid size.")
        if not wire["r"] and px * sz < 10:
            return reject("minTradeNtlRejected", "Order must have minimum value of $10.")
        szi, _ = self.positions.get((user, coin), (Decimal(0), Decimal(0)))
        if wire["r"] and (szi == 0 or (szi > 0) == is_buy or sz > abs(szi)):
            return reject("reduceOnlyRejected", "Reduce only order would increase position.")
        book = self.books[coin]["levels"]
        bids, asks = book
        opposite = asks if is_buy else bids
        crosses = bool(opposite) and (
            px >= Decimal(opposite[0]["px"]) if is_buy else px <= Decimal(opposite[0]["px"])
        )
        if tif == "Alo" and crosses:
            bbo = f"{bids[0]['px']}@{asks[0]['px']}"
            return reject(
                "badAloPxRejected",
                f"Post only order would have immediately matched, bbo was {bbo}.",
            )
        filled, notional = Decimal(0), Decimal(0)
        while opposite and order["sz"] > 0:
            level_px = Decimal(opposite[0]["px"])
            if (is_buy and level_px > px) or (not is_buy and level_px < px):
                break
            level_sz = Decimal(opposite[0]["sz"])
            qty = min(level_sz, order["sz"])
            self._fill(order, qty, level_px, crossed=True)
            filled += qty
            notional += qty * level_px
            if qty == level_sz:
                opposite.pop(0)
            else:
                opposite[0] = dict(opposite[0], sz=_s(level_sz - qty))
        if order["sz"] == 0:
            order["status"] = "filled"
        elif tif == "Ioc":
            if filled == 0:
                return reject(
                    "iocCancelRejected",
                    "Order could not immediately match against any resting orders.",
                )
            order["status"] = "canceled"
        self.orders.append(order)
        self._push_update(order)
        if filled > 0:
            avg = (notional / filled).quantize(Decimal(1).scaleb(-(6 - szd)), ROUND_HALF_UP)
            return {"filled": {"totalSz": _s(filled), "avgPx": _s(avg), "oid": order["oid"]}}
        return {"resting": {"oid": order["oid"]}}

    def _fill(self, order: dict[str, Any], qty: Decimal, px: Decimal, *, crossed: bool) -> None:
        user, coin = order["user"], order["coin"]
        szi, entry = self.positions.get((user, coin), (Decimal(0), Decimal(0)))
        signed = qty if order["side"] == "B" else -qty
        new = szi + signed
        if szi == 0 or (szi > 0) == (signed > 0):
            entry = (abs(szi) * entry + qty * px) / abs(new)
            direction = "Open Long" if signed > 0 else "Open Short"
            closed = Decimal(0)
        else:
            closed = (px - entry) * min(qty, abs(szi)) * (1 if szi > 0 else -1)
            direction = "Close Long" if szi > 0 else "Close Short"
            if new != 0 and (new > 0) != (szi > 0):
                entry = px
        self.positions[(user, coin)] = (new, entry if new != 0 else Decimal(0))
        fee = (qty * px * (TAKER_FEE if crossed else MAKER_FEE)).quantize(USD, ROUND_HALF_UP)
        self.cash[user] = self.cash.get(user, Decimal("10000")) + closed - fee
        order["sz"] -= qty
        self._next_tid += 7919
        fill = {
            "coin": coin,
            "px": _s(px),
            "sz": _s(qty),
            "side": order["side"],
            "time": int(time.time() * 1000),
            "startPosition": _s(szi),
            "dir": direction,
            "closedPnl": _s(closed),
            "hash": "0x" + keccak(str(self._next_tid).encode()).hex(),
            "oid": order["oid"],
            "crossed": crossed,
            "fee": _s(fee),
            "tid": self._next_tid,
            "feeToken": "USDC",
        }
        if order.get("cloid"):
            fill["cloid"] = order["cloid"]
        self.fills.setdefault(user, []).append(fill)
        self._push(user, "userFills", {"user": user, "fills": [fill]})

    def _cancel(self, user: str, asset: int, cloid: str) -> Any:
        for o in reversed(self.orders):
            if o["user"] == user and o.get("cloid") == cloid and o["status"] == "open":
                o["status"] = "canceled"
                o["statusTimestamp"] = int(time.time() * 1000)
                self._push_update(o)
                return "success"
        return {"error": f"Order was never placed, already canceled, or filled. asset={asset}"}

    async def _trade_through(self, coin: str, price: Decimal) -> None:
        for o in self.orders:
            if o["coin"] != coin or o["status"] != "open":
                continue
            if (o["side"] == "B" and price < o["px"]) or (o["side"] == "A" and price > o["px"]):
                self._fill(o, o["sz"], o["px"], crossed=False)
                o["status"] = "filled"
                o["statusTimestamp"] = int(time.time() * 1000)
                self._push_update(o)
        await asyncio.sleep(0)

    # -- /ws --------------------------------------------------------------------------------
    def _push_update(self, order: dict[str, Any]) -> None:
        entry = {
            "order": self._frontend(order),
            "status": order["status"],
            "statusTimestamp": order["statusTimestamp"],
        }
        self._push(order["user"], "orderUpdates", [entry])

    def _push(self, user: str, channel: str, data: Any) -> None:
        for ws, subs in list(self._sockets.items()):
            if f"{channel}:{user}" in subs and not ws.closed:
                task = asyncio.ensure_future(ws.send_json({"channel": channel, "data": data}))
                self._pushes.add(task)
                task.add_done_callback(self._pushes.discard)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_websockets:
            return web.Response(status=503, text="websocket unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        subs: set[str] = set()
        self._sockets[ws] = subs
        tasks = []
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                obj = json.loads(msg.data)
                if obj.get("method") == "ping":
                    await ws.send_json({"channel": "pong"})
                    continue
                if obj.get("method") != "subscribe":
                    continue
                sub = obj["subscription"]
                await ws.send_json({"channel": "subscriptionResponse", "data": obj})
                kind = sub["type"]
                if kind == "trades":
                    tasks.append(asyncio.ensure_future(self._replay_trades(ws, sub["coin"])))
                elif kind == "l2Book" and sub["coin"] in self.books:
                    await ws.send_json({"channel": "l2Book", "data": self.books[sub["coin"]]})
                elif kind in ("userFills", "orderUpdates"):
                    user = sub["user"].lower()
                    subs.add(f"{kind}:{user}")
                    if kind == "userFills":
                        data = {"isSnapshot": True, "user": user, "fills": self.fills.get(user, [])}
                        await ws.send_json({"channel": "userFills", "data": data})
        finally:
            for t in tasks:
                t.cancel()
            self._sockets.pop(ws, None)
        return ws

    async def _replay_trades(self, ws: web.WebSocketResponse, coin: str) -> None:
        sent = 0
        for message in self.trade_messages:
            if message["data"][0]["coin"] != coin:
                continue
            if self.trade_replay_delay_s:
                await asyncio.sleep(self.trade_replay_delay_s)
            if ws.closed:
                return
            await ws.send_json(message)
            sent += 1
            if self.drop_ws_after_messages is not None and sent >= self.drop_ws_after_messages:
                self.drop_ws_after_messages = None
                await ws.close()
                return


# -- test wallets: keys derived from fixed phrases, worth nothing anywhere ----------------------
def _test_key(phrase: str) -> str:
    return "0x" + keccak(phrase.encode()).hex()


#: The account's own key.
WALLET_KEY = _test_key("tradewind hyperliquid test wallet")
WALLET_ADDRESS = Account.from_key(WALLET_KEY).address.lower()
#: An API wallet's key, approved (on the server) for a different account.
AGENT_KEY = _test_key("tradewind hyperliquid test api wallet")
AGENT_ADDRESS = Account.from_key(AGENT_KEY).address.lower()
AGENT_ACCOUNT = "0x" + "5e9ee1089755c3435139848e47e6635505d5a13a"
#: A key the server does not know.
STRANGER_KEY = _test_key("tradewind hyperliquid test stranger")
STRANGER_ADDRESS = Account.from_key(STRANGER_KEY).address.lower()
