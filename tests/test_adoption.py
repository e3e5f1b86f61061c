"""The entry price of an adopted spot holding: from the account's trades when they cover it,
else the first mark after adoption (journaled by the engine as ``entry_priced``)."""

from __future__ import annotations

from decimal import Decimal

from tradewind.model import Fill, Instrument, InstrumentKind, Position, Side
from tradewind.trading.adoption import lots_from_trades
from tradewind.trading.portfolio import Portfolio

D = Decimal
KEY = "spot:BTCUSDT"


def _fill(side: Side, qty: str, price: str, ts: int, fee: str = "0", asset: str = "quote"):
    return Fill(
        client_order_id=f"o{ts}",
        instrument=KEY,
        side=side,
        quantity=D(qty),
        price=D(price),
        fee=D(fee),
        ts_ns=ts,
        fee_asset=asset,
    )


def test_the_holding_is_the_newest_lots_left_by_a_first_in_first_out_replay():
    trades = [
        _fill(Side.SELL, "0.05", "53000", 3),  # any order: replayed by time
        _fill(Side.BUY, "0.1", "50000", 1),
        _fill(Side.BUY, "0.1", "52000", 2),
    ]
    assert lots_from_trades(KEY, D("0.15"), trades) == (
        (D("0.05"), D("50000")),
        (D("0.1"), D("52000")),
    )
    # 0.05 left the account otherwise (a withdrawal): the newest lots make up what is held.
    assert lots_from_trades(KEY, D("0.1"), trades) == ((D("0.1"), D("52000")),)
    assert lots_from_trades(KEY, D("0.12"), trades) == (
        (D("0.02"), D("50000")),
        (D("0.1"), D("52000")),
    )


def test_a_fee_in_the_bought_coin_is_not_held_and_history_short_of_the_holding_is_no_price():
    trades = [_fill(Side.BUY, "0.1", "50000", 1, fee="0.0001", asset="base")]
    assert lots_from_trades(KEY, D("0.0999"), trades) == ((D("0.0999"), D("50000")),)
    # A deposit the trades do not explain: the trades cannot price it.
    assert lots_from_trades(KEY, D("0.5"), trades) is None
    assert lots_from_trades(KEY, D("0.1"), []) is None


def test_a_holding_without_an_entry_price_is_priced_at_its_first_mark():
    inst = Instrument(
        venue="spot", symbol="BTCUSDT", kind=InstrumentKind.SPOT, base="BTC", quote="USDT"
    )
    pf = Portfolio({KEY: inst}, D(0))
    pf.restore_position(Position(instrument=KEY, quantity=D("0.2"), lots=((D("0.2"), D(0)),)))
    assert pf.take_priced() == []
    pf.mark(KEY, 61234.5, 1_000)
    pos = pf.position(KEY)
    assert (pos.avg_price, pos.lots, pos.opened_ts_ns) == (
        D("61234.5"),
        ((D("0.2"), D("61234.5")),),
        1_000,
    )
    assert pf.take_priced() == [pos]
    pf.mark(KEY, 70000.0, 2_000)  # priced once: later marks move nothing
    assert pf.position(KEY).avg_price == D("61234.5") and pf.take_priced() == []
