"""A paper run through a sustained HTTP 500 outage of the exchange's order entry: the venue's
circuit breaker opens within its threshold, exits are still evaluated (one fires during the
outage, while an entry's create is still held by the exchange), and the run completes.

The parts are those of ``test_paper_cryptofeed_ccxt.py``: the cryptofeed venue on its local
TLS Binance USD-M feed (a scripted ``aggTrade`` stream), the ccxt venue (``binanceusdm``) on
the local Binance USD-M REST server that verifies every signature and fills MARKET orders at
the tape's last trade, ``load_config`` and ``Engine.run``. The outage is the server's: while
it lasts, every create is answered HTTP 500 (Binance's -1001 "Internal error"), and an entry's
create is first held — a slow, failing gateway — until an exit's create has arrived (at most
3 s). Lookups keep answering ("does not exist"), as Binance's read path does when its order
entry fails.

The script: an entry fills; the outage starts; the next candle close sends a pyramiding add,
held at the exchange; trades past ``maxhold``'s deadline arrive. With the create of the add on
the engine loop, nothing would be evaluated until the exchange answered it; with venue calls
in tasks the exit is decided and sent while the add is held. Both fail (500): two failed
creates, the threshold, open the breaker. The outage ends; the add and the exit are concluded
never to have reached the exchange once it has said "not found" for
``order_not_found_settle_s``; ``maxhold`` fires again, the exit (a trial while the breaker is
open) fills and closes the breaker.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from aiohttp import web
from tradewind.config import load_config
from tradewind.errors import VenueError
from tradewind.trading.engine import Engine

for _module in ("tradewind_venue_cryptofeed", "tradewind_venue_ccxt", "tradewind_exit_maxhold"):
    pytest.importorskip(_module, reason=f"the outage run needs {_module}")

from tests.e2e.cex_local import (  # noqa: E402
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    Create,
    LocalUsdm,
    ScriptedFeed,
    Tape,
    Trade,
    find_exception,
)

pytestmark = pytest.mark.e2e

D = Decimal
MINUTE_MS = 60_000
OUTAGE = {"code": -1001, "msg": "Internal error; unable to process your request."}
HOLD_CAP_S = 3.0


class OutageUsdm(LocalUsdm):
    """:class:`LocalUsdm` with an order-entry outage switch (see the module docstring)."""

    def __init__(self, tape: Tape) -> None:
        super().__init__(tape, fill_mode="response")
        self.outage = False
        #: perf_counter_ns at which each create failed by the outage was answered.
        self.answered_ns: dict[str, int] = {}

    async def create_order(self, request: web.Request) -> web.Response:
        with self.lock:
            outage = self.outage
        if not outage:
            return await super().create_order(request)
        received = time.perf_counter_ns()
        params = await self._params(request, signed=True)
        if isinstance(params, web.Response):
            return params
        cid = params["newClientOrderId"]
        reduce_only = params.get("reduceOnly") == "true"
        with self.lock:
            self.creates += 1
            self.creates_log.append(
                Create(
                    client_order_id=cid,
                    side=params["side"],
                    type=params["type"],
                    quantity=params["quantity"],
                    reduce_only=reduce_only,
                    received_ns=received,
                    trades_sent=len(self.tape.sent),
                )
            )
        if not reduce_only:
            deadline = time.monotonic() + HOLD_CAP_S
            while time.monotonic() < deadline and not self._exit_arrived():
                await asyncio.sleep(0.005)
        with self.lock:
            self.answered_ns[cid] = time.perf_counter_ns()
        return web.json_response(OUTAGE, status=500)

    def _exit_arrived(self) -> bool:
        with self.lock:
            return any(c.reduce_only for c in self.creates_log)

    def switch(self, on: bool) -> bool:
        """Start or end the outage (called by the feed's script); True."""
        with self.lock:
            self.outage = on
        return True


def write_config(folder: Path, feed: ScriptedFeed, exchange: OutageUsdm) -> Path:
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"
breaker_failures = 2
breaker_cooldown_s = 600
order_not_found_settle_s = 0.5

[[instruments]]
symbol = "BTCUSDT"
venue = "usdm"
data = "feed"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "10"
taker_fee = "0.0005"

[venues.feed]
plugin = "cryptofeed"
exchange = "BINANCE_FUTURES"
symbols = ["BTCUSDT"]
batch_ms = 5
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
order_updates = "poll"
poll_interval_s = 0.05
timeout_ms = 5000

[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 3

[strategy]
timeframe = "1m"
max_notional = "100"
pyramiding = 5
long = [{{ value = "close", op = ">", threshold = 0 }}]
""",
        encoding="utf-8",
    )
    return path


def rows(con: duckdb.DuckDBPyConnection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(args))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture
def exchange(monkeypatch: pytest.MonkeyPatch) -> Iterator[OutageUsdm]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    srv = OutageUsdm(Tape()).start()
    yield srv
    srv.stop()


def test_a_500_outage_opens_the_breaker_exits_are_evaluated_and_the_run_completes(
    tmp_path: Path, exchange: OutageUsdm
) -> None:
    tape = exchange.tape
    with ScriptedFeed(tmp_path, tape) as feed:
        engine = Engine(load_config(write_config(tmp_path, feed, exchange)))
        venue = engine.venues["usdm"]

        def booked(n: int) -> Callable[[], bool]:
            return lambda: len(engine.orders.fills) >= n

        def creates(pred: Callable[[Create], bool], n: int = 1) -> Callable[[], bool]:
            return lambda: sum(1 for c in list(exchange.creates_log) if pred(c)) >= n

        t0 = (time.time_ns() // 1_000_000 // MINUTE_MS - 30) * MINUTE_MS
        opened_at = t0 + MINUTE_MS + 500  # the entry fills at this trade
        # Trades inside minute 3 past maxhold's deadline, 100 ms of real time apart: each is
        # an engine step (the orders in doubt are polled, the exit monitor runs).
        late = [
            Trade(opened_at + 3 * MINUTE_MS + 100 + k, D(60020), D("0.01"), True) for k in range(60)
        ]
        steps: list[tuple[Any, ...]] = []
        for trade in late[30:]:
            steps += [("trade", trade), ("wait", 0.05)]
        feed.script(
            ("trade", Trade(t0 + 1_000, D(60000), D("0.1"), True)),
            ("trade", Trade(t0 + 30_000, D(60010), D("0.1"), False)),
            ("trade", Trade(opened_at, D(60010), D("0.1"), True)),  # closes minute 0: entry
            ("until", booked(1), 20.0),
            ("until", lambda: exchange.switch(True), 1.0),  # the outage starts
            ("trade", Trade(t0 + 2 * MINUTE_MS + 500, D(60015), D("0.1"), True)),  # an add
            ("until", creates(lambda c: True, 2), 20.0),  # the add is held at the exchange
            ("trade", late[0]),  # past the deadline: the exit, while the add is held
            ("until", creates(lambda c: c.reduce_only), 20.0),
            ("until", lambda: engine.orders.breaker_open(venue), 20.0),
            ("until", lambda: exchange.switch(False), 1.0),  # the outage ends
            # Both concluded "never reached it", with no trade coming in meanwhile.
            ("until", lambda: not engine.orders.unresolved(), 20.0),
            ("trade", late[1]),  # maxhold again: the exit, a trial while the breaker is open
            ("until", booked(2), 20.0),  # the exit filled
            *[x for t in late[2:30] for x in (("trade", t), ("wait", 0.05))],
            *steps,
            ("until", lambda: engine.ticks >= 3 + 1 + len(late), 20.0),
            ("close",),
        )

        async def run() -> Exception | None:
            try:
                await engine.run()
            except Exception as exc:  # the feed's end (max_retries = 0)
                return exc
            return None

        error = anyio.run(run)
        assert feed.done.is_set() and feed.error is None
    assert tape.timeouts == 0, "the run did not react to the script in time"
    assert error is not None and find_exception(error, VenueError) is not None
    assert "the cryptofeed feed stopped" in str(find_exception(error, VenueError))
    assert exchange.bad_signatures == 0 and not exchange.unknown

    log = list(exchange.creates_log)
    entry, add, exit1 = log[:3]
    assert (entry.side, entry.reduce_only) == ("BUY", False)
    assert (add.side, add.reduce_only) == ("BUY", False)
    assert (exit1.side, exit1.reduce_only) == ("SELL", True)
    # The exit was decided and reached the exchange while the add's create was still held.
    assert add.received_ns < exit1.received_ns < exchange.answered_ns[add.client_order_id]
    # No entry reached the exchange after those two failures: the breaker opened at two.
    assert all(c.reduce_only for c in log[3:])
    filled_exit = log[-1]
    assert filled_exit.reduce_only and filled_exit.client_order_id not in exchange.answered_ns
    (e_trade, x_trade) = exchange.trades

    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        (run_row,) = rows(con, "SELECT * FROM runs")
        assert run_row["finished_ts_ns"] is not None  # the run completed and was journaled
        breakers = [
            json.loads(r["payload"])
            for r in rows(
                con, "SELECT payload FROM events WHERE type = 'CircuitBreaker' ORDER BY seq"
            )
        ]
        assert [b["tripped"] for b in breakers] == [True, False]
        assert "2 consecutive failures" in breakers[0]["reason"]
        status = {
            r["client_order_id"]: (r["status"], r["reason"])
            for r in rows(con, "SELECT client_order_id, status, reason FROM orders")
        }
        assert status[entry.client_order_id][0] == "filled"
        assert status[filled_exit.client_order_id][0] == "filled"
        for failed in (add, exit1):
            st, reason = status[failed.client_order_id]
            assert st == "rejected" and "never reached it" in reason
        fills = rows(con, "SELECT client_order_id, trade_id, fee FROM fills ORDER BY seq")
        assert [(f["client_order_id"], f["trade_id"]) for f in fills] == [
            (entry.client_order_id, str(e_trade["id"])),
            (filled_exit.client_order_id, str(x_trade["id"])),
        ]
        (pos,) = rows(con, "SELECT quantity FROM positions ORDER BY seq DESC LIMIT 1")
        assert D(pos["quantity"]) == 0
    finally:
        con.close()
