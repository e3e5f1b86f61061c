"""SIGKILL of a host at chosen moments of a MARKET entry, then a restart: the journal's fills
(with fees) equal the exchange's trades exactly.

The host is a real process (the core's order manager and journal on the ccxt venue, as the
engine wires them) trading against the local Binance USDⓈ-M server, which fills MARKET orders
at once, as the exchange does. It is killed

- ``receive``: by the server, the moment the create arrives (the exchange still executes it);
- ``accept``: by the server, just after the create's answer was sent;
- ``fill``: by itself, on the first fill, before the journal writes it.

While it is down an order is placed by hand on the exchange (and executed). The restart
reconciles with the exchange and prints the journal's fills: the account's trades since the
last journaled fill are booked once each, the hand-placed order's too when ``[run]
unknown_orders = "adopt"``; with the default ``"refuse"`` the host does not start. (This server's
``positionRisk`` is a recorded payload that does not follow executions, so positions are not
compared here; the fills are.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from ccxt_testkit import API_KEY, KEY_ENV, SECRET, SECRET_ENV
from ccxt_testserver_binance import BinanceFuturesServer
from tradewind.journal import intent_log
from tradewind.journal.store import Journal

HOST = r"""
import asyncio, json, os, signal, sys
from decimal import Decimal
from tradewind.journal.store import Journal
from tradewind.model import Order, OrderType, Side, TimeInForce
from tradewind.trading.orders import OrderManager
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.reconcile import reconcile
from tradewind.secrets import Secret
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig

url, path, phase, run_id, key_env, secret_env, unknown_orders = sys.argv[1:8]
KEY = "usdm:BTCUSDT"


async def main():
    venue = CcxtVenue(
        CcxtVenueConfig(
            exchange="binanceusdm", market_type="swap", symbols=["BTCUSDT"],
            api_key=Secret(key_env), secret=Secret(secret_env), api_host=url,
            order_updates="poll", poll_interval_s=0.1, timeout_ms=3000, lookup_delay_s=0.05,
        ),
        instance="usdm",
    )
    await venue.connect()
    inst = next(i for i in await venue.instruments() if i.key == KEY)
    journal = Journal(path, run_id)
    journal.start("live", "live.toml", 0)
    # As the engine runs paper and live: the order is written ahead to the intent log, and
    # reaches DuckDB with a step's commit — which this host never makes before it is killed.
    journal.group_commit = os.environ.get("TW_GROUP_COMMIT") == "1"
    portfolio = Portfolio({KEY: inst}, Decimal("10000"))
    try:
        if phase == "trade":
            if os.environ.get("TW_KILL_AT") == "fill":
                real = journal.record_fill

                def record_fill(*a, **kw):
                    os.kill(os.getpid(), signal.SIGKILL)  # the fill arrived, not journaled
                    return real(*a, **kw)

                journal.record_fill = record_fill
            orders = OrderManager(portfolio, run_id, journal=journal)
            venue.set_sink(orders)
            orders.register_venue(venue)
            order = Order(
                client_order_id=orders.next_client_order_id(), instrument=KEY, side=Side.BUY,
                type=OrderType.MARKET, quantity=Decimal("0.002"),
                time_in_force=TimeInForce.IOC,
            )
            try:
                await orders.submit(venue, order, 1)
            except Exception as exc:
                print("submit:", exc, file=sys.stderr)
            for _ in range(30):
                await orders.poll()
                await asyncio.sleep(0.1)
            print("not killed", file=sys.stderr)
        else:
            report = await reconcile(
                venue, journal, [inst], portfolio, unknown_positions="refuse",
                unknown_orders=unknown_orders, ts_ns=2,
            )
            fills = [
                [f.client_order_id, f.trade_id, str(f.quantity), str(f.price), str(f.fee)]
                for f in journal.fills()
            ]
            print(json.dumps({"fills": fills, "position": str(portfolio.position(KEY).quantity),
                              "kinds": [d.kind for d in report.discrepancies]}))
    finally:
        await venue.close()
        journal.close()


asyncio.run(main())
"""


class KillingServer(BinanceFuturesServer):
    """Kills the host process when a create arrives (``receive``) or after answering it
    (``accept``); MARKET orders fill at once."""

    def __init__(self, kill_at: str) -> None:
        super().__init__(API_KEY, SECRET)
        self.kill_at = kill_at
        self.host_pid: int | None = None
        self.market_fill_price = "50000"

    def _kill(self) -> None:
        if self.host_pid is not None:
            os.kill(self.host_pid, signal.SIGKILL)

    async def create_order(self, request: web.Request) -> web.Response:
        if self.kill_at == "receive":
            self._kill()
        response = await super().create_order(request)
        if self.kill_at == "accept":
            await response.prepare(request)
            await response.write_eof()
            await asyncio.sleep(0.05)
            self._kill()
        return response


@pytest.fixture
def host_env() -> Iterator[dict[str, str]]:
    yield dict(os.environ, **{KEY_ENV: API_KEY, SECRET_ENV: SECRET})


def run_host(
    server: KillingServer,
    journal: Path,
    phase: str,
    run_id: str,
    env: dict[str, str],
    unknown_orders: str = "refuse",
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOST,
            server.url,
            str(journal),
            phase,
            run_id,
            KEY_ENV,
            SECRET_ENV,
            unknown_orders,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    server.host_pid = proc.pid if phase == "trade" else None
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize(
    ("kill_at", "group_commit"),
    [
        ("receive", False),
        ("accept", False),
        ("fill", False),
        ("receive", True),
        ("fill", True),
    ],
)
def test_after_a_sigkill_the_journals_fills_equal_the_exchanges_trades(
    kill_at: str, group_commit: bool, tmp_path: Path, host_env: dict[str, str]
) -> None:
    server = KillingServer(kill_at).start()
    try:
        journal = tmp_path / "journal.duckdb"
        env = dict(host_env, TW_KILL_AT=kill_at, TW_GROUP_COMMIT="1" if group_commit else "0")
        first = run_host(server, journal, "trade", "run1", env)
        assert first.returncode == -signal.SIGKILL, first.stderr
        assert server.create_count() == 1
        if group_commit:
            # Killed after the write-ahead and before any DuckDB commit of the order: only the
            # intent log knows it; the restart replays it before anything reads the journal.
            (sent,) = [r["orders"][0] for r in intent_log.read(intent_log.intent_path(journal))]
            ro = Journal.open_readonly(journal)
            try:
                assert ro.order(sent) is None
            finally:
                ro.close()
        # While the host is down, someone sells by hand on the exchange's web page.
        server.place_by_hand("SELL", "0.001", "50100")
        again = run_host(server, journal, "restart", "run2", env, unknown_orders="adopt")
        assert again.returncode == 0, again.stderr
        result: dict[str, Any] = json.loads(again.stdout.strip().splitlines()[-1])
        trades = server.trades_of()
    finally:
        server.stop()
    order, by_hand = server.orders_of()
    assert order["status"] == by_hand["status"] == "FILLED"
    assert by_hand["clientOrderId"].startswith("web_")
    assert len(trades) == 2
    cid_of = {o["orderId"]: o["clientOrderId"] for o in (order, by_hand)}
    booked = [
        (c, tid, Decimal(q), Decimal(p), Decimal(fee)) for c, tid, q, p, fee in result["fills"]
    ]
    # Every trade of the account, each once, with its fee: the host's order and the hand's.
    assert booked == [
        (
            cid_of[t["orderId"]],
            str(t["id"]),
            Decimal(t["qty"]),
            Decimal(t["price"]),
            Decimal(t["commission"]),
        )
        for t in trades
    ]
    assert "order_unknown_to_journal" in result["kinds"]


def test_a_trade_of_an_order_placed_by_hand_makes_the_restart_refuse_by_default(
    tmp_path: Path, host_env: dict[str, str]
) -> None:
    server = KillingServer("accept").start()
    try:
        journal = tmp_path / "journal.duckdb"
        env = dict(host_env, TW_KILL_AT="accept")
        first = run_host(server, journal, "trade", "run1", env)
        assert first.returncode == -signal.SIGKILL, first.stderr
        trade = server.place_by_hand("SELL", "0.001", "50100")
        again = run_host(server, journal, "restart", "run2", env)  # unknown_orders = refuse
    finally:
        server.stop()
    assert again.returncode != 0
    (_, by_hand) = server.orders_of()
    assert f"order {by_hand['clientOrderId']} (usdm:BTCUSDT, sell {trade['qty']}" in again.stderr
    assert "unknown to the journal" in again.stderr and "the host does not start" in again.stderr
