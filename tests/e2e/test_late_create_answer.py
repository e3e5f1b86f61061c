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
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from aiohttp import web
from tradewind.config import load_config
from tradewind.trading.engine import Engine

for _module in ("tradewind_venue_cryptofeed", "tradewind_venue_ccxt", "tradewind_exit_maxhold"):
    pytest.importorskip(_module, reason=f"the CEX end-to-end run needs {_module}")

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


def write_config(folder: Path, feed: ScriptedFeed, exchange: LocalUsdm) -> Path:
    """1 s candles, long whenever flat at a candle's close, a maxhold exit far away."""
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1s"]

[run]
journal = "journal.duckdb"

[[instruments]]
symbol = "BTCUSDT"
venue = "usdm"
data = "feed"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "10"
maker_fee = "0.0002"
taker_fee = "0.0005"

[venues.feed]
plugin = "cryptofeed"
exchange = "BINANCE_FUTURES"
symbols = ["BTCUSDT"]
batch_ms = 1
ws_host = "{feed.wss_url}"
rest_host = "{feed.http_url}"
ca_file = "cert.pem"
max_retries = 0

[venues.usdm]
plugin = "ccxt"
exchange = "binanceusdm"
market_type = "swap"
symbols = ["BTCUSDT"]
api_key = "env:{KEY_ENV}"
secret = "env:{SECRET_ENV}"
api_host = "{exchange.url}"
order_updates = "websocket"

[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 600

[strategy]
timeframe = "1s"
max_notional = "1000"
long = [{{ value = "close", op = ">", threshold = 0 }}]
""",
        encoding="utf-8",
    )
    return path


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
            engine = Engine(load_config(write_config(tmp_path, feed, exchange)))
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
