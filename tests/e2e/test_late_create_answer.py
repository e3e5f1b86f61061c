"""A create's answer that arrives after the order's end: journaled ``stale``, not an error.

A paper host (``Engine.run`` in this process: cryptofeed's real ``BinanceFutures`` feed from
the local TLS server, ccxt's real ``binanceusdm`` to the local Binance USD-M server, both of
:mod:`tests.e2e.cex_local`, no mocks) enters long on a 1 s candle with its MARKET IOC order.
The exchange is a thin, slow one: it accepts the order, executes part of it, expires the rest
(the IOC's time in force is over) and tells the host so on the user-data websocket — and only
then, ``answer_delay_s`` later, sends the create's HTTP answer, the order as it was accepted
(``NEW``, nothing executed). The host learns of the order's end before it hears that the
order was accepted.

The late answer must be journaled as a ``stale`` order event (not an "illegal order
transition" system error), the order's final state is the one the websocket reported
(``expired``, partly filled), and the journal equals the exchange: one order, its one trade
booked once as a fill with the exchange's price, quantity and fee, and the exchange's
position.

The host's own cancel the same way: the order manager (its journal on disk, the real ccxt
venue, :class:`VenueCalls` as the engine runs them) sends a resting LIMIT order, the exchange
holds the create's answer for a second, the host cancels meanwhile; the cancel's answer
(``CANCELED``) arrives first and ends the order, the create's answer is journaled ``stale``.
(The engine itself cancels only at stop, after the creates in flight are answered: this is the
order manager's path, which any cancel takes.)
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import anyio
import duckdb
import pytest
from aiohttp import web
from tradewind.config import load_config
from tradewind.journal.store import Journal
from tradewind.model import Order, OrderType, Side, TimeInForce
from tradewind.secrets import Secret
from tradewind.trading.engine import Engine
from tradewind.trading.orders import OrderManager
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.venue_calls import VenueCalls

for _module in ("tradewind_venue_cryptofeed", "tradewind_venue_ccxt", "tradewind_exit_maxhold"):
    pytest.importorskip(_module, reason=f"the CEX end-to-end run needs {_module}")

from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig  # noqa: E402

from tests.e2e.cex_local import (  # noqa: E402
    API_KEY,
    KEY_ENV,
    MS,
    SECRET,
    SECRET_ENV,
    LocalUsdm,
    ScriptedFeed,
    Tape,
    Trade,
)
from tests.e2e.test_paper_cryptofeed_ccxt import (  # noqa: E402
    _isolated_symbol_cache,  # noqa: F401  (autouse: cryptofeed's symbol cache per test)
    rows,
    run_engine,
)
from tests.e2e.test_send_before_commit import write_config  # noqa: E402

pytestmark = pytest.mark.e2e
D = Decimal
LOT = D("0.001")


class ExpiresBeforeItAnswers(LocalUsdm):
    """A Binance USD-M whose MARKET IOC creates execute in part, the rest expiring, and whose
    create answers are slow: the user stream reports the execution and the expiry (one
    ``ORDER_TRADE_UPDATE``, ``x`` = ``EXPIRED``), then ``answer_delay_s`` later the create's
    answer arrives — the order as accepted (``NEW``, nothing executed)."""

    answer_delay_s = 0.5
    #: The share of the order the book had (the rest expires).
    part = D("0.5")

    def __init__(self, tape: Tape) -> None:
        super().__init__(tape, fill_mode="stream")
        self.hold_market = True  # the parent accepts MARKET orders as NEW, executes nothing
        #: Creates answered (after their delay), and when the expiry was pushed / answered.
        self.answered = 0
        self.pushed_ns: list[int] = []
        self.answered_ns: list[int] = []

    async def create_order(self, request: web.Request) -> web.Response:
        response = await super().create_order(request)
        if response.status != 200:
            return response
        assert response.text is not None
        accepted = json.loads(response.text)
        assert accepted["status"] == "NEW"
        cid = accepted["clientOrderId"]
        with self.lock:
            order = self.orders[cid]
            qty = (D(order["origQty"]) * self.part).quantize(LOT)
            self._execute(cid, self.tape.last_trade(), qty)
            order["status"] = "EXPIRED"  # the IOC's rest: nothing more in the book
            order["updateTime"] = self.tape.last_trade().ts_ms
        loop = asyncio.get_running_loop()
        # push_order_update waits on this loop from its caller's thread: run it in one.
        await loop.run_in_executor(None, self.push_order_update, cid)
        self.pushed_ns.append(time.perf_counter_ns())
        await asyncio.sleep(self.answer_delay_s)
        with self.lock:
            self.answered += 1
        self.answered_ns.append(time.perf_counter_ns())
        return response


def test_a_create_answer_after_the_orders_end_is_journaled_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    tape = Tape()
    exchange = ExpiresBeforeItAnswers(tape).start()
    t0 = (time.time_ns() // MS // 60_000 - 120) * 60_000  # a minute two hours ago
    try:
        with ScriptedFeed(tmp_path, tape) as feed:
            engine = Engine(
                load_config(write_config(tmp_path, feed, exchange, max_notional="1000"))
            )
            feed.script(
                ("until", lambda: bool(exchange.streams), 30.0),  # ccxt.pro's user stream
                ("trade", Trade(t0, D(60000), D("0.01"), True)),
                ("trade", Trade(t0 + 1_000, D(60010), D("0.01"), True)),  # closes: entry
                ("until", lambda: exchange.answered >= 1, 30.0),
                # One more trade, no candle close: a step that publishes what the late answer
                # caused (the run also waits for the create before it stops).
                ("trade", Trade(t0 + 1_500, D(60020), D("0.01"), True)),
                ("until", lambda: engine.ticks >= 3, 30.0),
                ("close",),
            )
            assert run_engine(engine) is not None  # the feed's end (max_retries = 0)
            assert feed.done.is_set() and feed.error is None
    finally:
        exchange.stop()
    assert tape.timeouts == 0, "the run did not react to the script in time"
    assert not exchange.unknown and exchange.bad_signatures == 0
    assert not exchange.push_errors

    with exchange.lock:
        assert exchange.creates == 1
        ((cid, order),) = exchange.orders.items()
        (trade,) = exchange.trades
        held = exchange.positions["BTCUSDT"][0]
    assert order["status"] == "EXPIRED"
    assert D(order["executedQty"]) == D(trade["qty"]) == held > 0
    assert held < D(order["origQty"])  # partly executed: the rest expired

    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = rows(con, "SELECT client_order_id, status, filled_quantity, intent FROM orders")
        assert [(o["client_order_id"], o["status"], D(o["filled_quantity"])) for o in orders] == [
            (cid, "expired", held)
        ]
        events = rows(
            con,
            "SELECT kind, from_status, to_status FROM order_events "
            "WHERE client_order_id = ? ORDER BY seq",
            cid,
        )
        kinds = [e["kind"] for e in events]
        assert "illegal" not in kinds and "unknown" not in kinds, events
        # The websocket's report ended the order; the create's answer came after it: stale.
        moves = [(e["from_status"], e["to_status"]) for e in events if e["kind"] != "stale"]
        assert moves[-1][1] == "expired", events
        stale = [(e["from_status"], e["to_status"]) for e in events if e["kind"] == "stale"]
        # Once: the venue keeps the order's end (it does not fall back to "accepted" and
        # deliver that), the order manager journals the answer the create returned.
        assert stale == [("expired", "accepted")], events
        fills = rows(con, "SELECT client_order_id, trade_id, quantity, price, fee FROM fills")
        assert [
            (f["client_order_id"], f["trade_id"], D(f["quantity"]), D(f["price"]), D(f["fee"]))
            for f in fills
        ] == [
            (
                cid,
                str(trade["id"]),
                D(trade["qty"]),
                D(trade["price"]),
                D(trade["commission"]),
            )
        ]
        positions = rows(con, "SELECT quantity FROM positions ORDER BY seq")
        assert D(positions[-1]["quantity"]) == held
        errors = rows(con, "SELECT type, message FROM system_events")
        assert not [e for e in errors if "illegal" in (e["message"] or "")], errors
    finally:
        con.close()
    assert engine.portfolio.position("usdm:BTCUSDT").quantity == held
    # The order of things the test is about: the expiry reached the host before the answer.
    assert exchange.pushed_ns[0] < exchange.answered_ns[0]


class SlowToAnswer(LocalUsdm):
    """A Binance USD-M whose create answers leave ``answer_delay_s`` after the order was
    accepted (a slow gateway): a cancel sent meanwhile is executed and answered first."""

    answer_delay_s = 1.0

    def __init__(self, tape: Tape) -> None:
        super().__init__(tape, fill_mode="stream")
        self.answered_ns: list[int] = []
        self.cancelled_ns: list[int] = []

    async def create_order(self, request: web.Request) -> web.Response:
        response = await super().create_order(request)
        await asyncio.sleep(self.answer_delay_s)
        self.answered_ns.append(time.perf_counter_ns())
        return response

    async def cancel_order(self, request: web.Request) -> web.Response:
        response = await super().cancel_order(request)
        self.cancelled_ns.append(time.perf_counter_ns())
        return response


def test_a_cancel_answered_before_the_create_leaves_the_order_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host cancels its resting order while the create's answer is still on its way (the
    order manager, its journal on disk and the real ccxt venue, as the engine wires them)."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    tape = Tape()
    tape.record(1, Trade(time.time_ns() // MS, D(60000), D("0.01"), True), 0)
    exchange = SlowToAnswer(tape).start()
    journal = Journal(tmp_path / "journal.duckdb", "run1")
    journal.start("paper", "paper.toml", 0)

    async def go() -> str:
        venue = CcxtVenue(
            CcxtVenueConfig(
                exchange="binanceusdm",
                market_type="swap",
                symbols=["BTCUSDT"],
                api_key=Secret(KEY_ENV),
                secret=Secret(SECRET_ENV),
                api_host=exchange.url,
                order_updates="websocket",
            ),
            instance="usdm",
        )
        await venue.connect()
        try:
            (inst,) = await venue.instruments()
            orders = OrderManager(Portfolio({inst.key: inst}, D("10000")), "run1", journal=journal)
            venue.set_sink(orders)
            order = Order(
                client_order_id=orders.next_client_order_id(),
                instrument=inst.key,
                side=Side.BUY,
                type=OrderType.LIMIT,
                quantity=D("0.010"),
                price=D("59000"),  # below the market: it rests
                time_in_force=TimeInForce.GTC,
                tag="entry",
                intent="entry",
            )
            cid = order.client_order_id
            async with VenueCalls(orders) as calls:
                assert calls.submit(venue, order, time.time_ns())
                while True:  # the exchange has it; its answer is on its way
                    with exchange.lock:
                        if cid in exchange.orders:
                            break
                    await asyncio.sleep(0.01)
                cancelled = await orders.cancel(venue, cid, time.time_ns())
                assert cancelled.status.value == "cancelled"
                assert cid in calls.sending  # the create has not been answered yet
            # Leaving the block waited for the create's answer.
            journal.commit()
            assert orders.records[cid].status.value == "cancelled"
            return cid
        finally:
            await venue.close()

    try:
        cid = anyio.run(go)
    finally:
        exchange.stop()
        journal.close()
    assert not exchange.unknown and exchange.bad_signatures == 0
    assert exchange.cancelled_ns[0] < exchange.answered_ns[0]  # the cancel was answered first
    with exchange.lock:
        assert exchange.creates == 1
        assert exchange.orders[cid]["status"] == "CANCELED"
        assert not exchange.trades
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = rows(con, "SELECT client_order_id, status FROM orders")
        assert orders == [{"client_order_id": cid, "status": "cancelled"}]
        events = rows(con, "SELECT kind, from_status, to_status FROM order_events ORDER BY seq")
        kinds = [e["kind"] for e in events]
        assert "illegal" not in kinds and "unknown" not in kinds, events
        # Opened, ended by the cancel's answer, then the create's late answer: stale.
        assert [(e["from_status"], e["to_status"]) for e in events] == [
            (None, "new"),
            ("new", "cancelled"),
            ("cancelled", "accepted"),
        ], events
        assert kinds[-1] == "stale"
        assert rows(con, "SELECT * FROM fills") == []
    finally:
        con.close()
