"""A spot holding unknown to the journal is adopted at reconciliation with the entry price
of the account's own trades (capability ``trades:account``, ``fetch_my_trades``), replayed
first in, first out, against the local Binance spot server, never at price 0."""

from __future__ import annotations

import time
from decimal import Decimal

import anyio
import pytest
from ccxt_testkit import API_KEY, SECRET, RecordingSink, set_credentials, wait_for
from ccxt_testserver_binance_spot import BinanceSpotServer
from test_ccxt_scenarios import config
from tradewind.journal.store import Journal
from tradewind.model import Order, OrderType, Side, TimeInForce
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.reconcile import reconcile
from tradewind_venue_ccxt import CcxtVenue

D = Decimal


def test_an_adopted_spot_holding_takes_its_entry_from_the_accounts_trades(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    set_credentials(monkeypatch)
    server = BinanceSpotServer(API_KEY, SECRET).start()
    cfg = config(server, exchange="binance", market_type="spot", symbols=["BTCUSDT"])

    def order(cid: str, side: Side, qty: str, price: str | None = None) -> Order:
        return Order(
            client_order_id=cid,
            instrument="bs:BTCUSDT",
            side=side,
            type=OrderType.MARKET if price is None else OrderType.LIMIT,
            quantity=D(qty),
            price=None if price is None else D(price),
            time_in_force=TimeInForce.IOC if price is None else TimeInForce.GTC,
        )

    async def trade_elsewhere() -> None:
        # Another program (or this host, before its journal was lost) trades the account.
        venue = CcxtVenue(cfg, instance="bs")
        await venue.connect()
        sink = RecordingSink()
        venue.set_sink(sink)
        try:
            await venue.submit_order(order("x-1", Side.BUY, "0.01"))  # at 60 000
            await venue.submit_order(order("x-2", Side.BUY, "0.02", "1000"))
            server.fill("x-2", "50000")
            await venue.submit_order(order("x-3", Side.SELL, "0.005"))  # at 60 000
            await wait_for(lambda: len(sink.fills) == 3)
        finally:
            await venue.close()

    async def adopt():
        venue = CcxtVenue(cfg, instance="bs")
        await venue.connect()
        try:
            assert "trades:account" in venue.capabilities
            (inst,) = [i for i in await venue.instruments() if i.key == "bs:BTCUSDT"]
            journal = Journal(tmp_path / "j.duckdb", "adopt")
            # The session starts after the trades: they made the holding, they are not fills
            # of this session (reconciliation books only trades since the session's start).
            started = time.time_ns()
            journal.start("live", "live.toml", started)
            portfolio = Portfolio({inst.key: inst}, D(0))
            report = await reconcile(
                venue, journal, [inst], portfolio, unknown_positions="adopt", ts_ns=started
            )
            return report, portfolio.position(inst.key), journal.positions()[inst.key]
        finally:
            await venue.close()

    try:
        anyio.run(trade_elsewhere)
        held = server.balance("BTC")
        # 0.01 and 0.02 bought, each less its commission in BTC (0.1 %), 0.005 sold.
        assert held == D("0.02497")
        report, pos, journaled = anyio.run(adopt)
    finally:
        server.stop()
    assert [(d.kind, d.action) for d in report.discrepancies] == [("position", "corrected")]
    # First in, first out: the sale took 0.005 of the 60 000 lot.
    assert pos.lots == ((D("0.00499"), D("60000")), (D("0.01998"), D("50000")))
    assert pos.quantity == held
    assert pos.avg_price == (D("0.00499") * 60000 + D("0.01998") * 50000) / held
    assert journaled.lots == pos.lots and journaled.avg_price == pos.avg_price
