"""What filters share: tradewind.filtering.helpers and tradewind.testing.portfolios' builders."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import attrs
import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.filtering.helpers import (
    fmt_money,
    fmt_number,
    fmt_pct,
    fmt_position,
    last_price,
    open_entry_orders,
    order_notional,
    position_notional,
    signal_notional,
    to_decimal,
)
from tradewind.model import Instrument, InstrumentKind, OrderType, Position, Side
from tradewind.testing.portfolios import (
    NS_MIN,
    T0,
    book_fill,
    make_order,
    make_signal,
    portfolio_with,
)

BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")
ETH = Instrument(venue="binance", symbol="ETHUSDT", kind=InstrumentKind.PERP, tick_size="0.01")


# -- to_decimal -----------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class _Cfg:
    limit: Decimal = attrs.field(default=Decimal("1"), converter=to_decimal)


def test_to_decimal_reads_floats_at_their_shortest_repr():
    assert str(to_decimal(0.1)) == "0.1"  # not 0.1000000000000000055511151231257827...
    assert str(to_decimal(2500.5)) == "2500.5"
    assert to_decimal(3) == Decimal(3) and to_decimal("0.3") == Decimal("0.3")
    assert to_decimal(Decimal("1.50")) == Decimal("1.50")
    with pytest.raises(InvalidOperation):
        to_decimal("lots")


def test_to_decimal_as_a_config_converter():
    assert structure({"limit": 0.05}, _Cfg).limit == Decimal("0.05")
    assert structure({"limit": "7"}, _Cfg).limit == Decimal(7)
    with pytest.raises(ConfigError, match=r"@ \$.limit"):
        structure({"limit": "lots"}, _Cfg)


# -- formatting -----------------------------------------------------------------------------
def test_fmt_money_is_to_the_cent_with_separators():
    assert fmt_money(Decimal("1050")) == "1,050.00"
    assert fmt_money(Decimal("1234567.891")) == "1,234,567.89"
    assert fmt_money(Decimal("-2000")) == "-2,000.00"
    assert fmt_money(Decimal(0)) == "0.00"


def test_fmt_number_keeps_every_significant_digit_and_no_exponent():
    assert fmt_number(Decimal("5E+4")) == "50,000"
    assert fmt_number(Decimal("50000.10")) == "50,000.1"
    assert fmt_number(Decimal("0.0000120")) == "0.000012"
    assert fmt_number(Decimal("0.01")) == "0.01"


def test_fmt_pct_drops_trailing_zeros():
    assert fmt_pct(Decimal("0.5")) == "50%"
    assert fmt_pct(Decimal("0.05")) == "5%"
    assert fmt_pct(Decimal("0.055")) == "5.5%"
    assert fmt_pct(Decimal("0")) == "0%"


def test_fmt_position_names_side_size_and_the_average_at_the_tick():
    pf = portfolio_with([(BTC, Side.BUY, "0.01", "50000"), (BTC, Side.BUY, "0.02", "50000.1")])
    assert str(pf.position(BTC.key).avg_price).startswith("50000.0666666")
    assert fmt_position(pf, pf.position(BTC.key)) == "long 0.03 at 50,000.1"
    pf = portfolio_with([(ETH, Side.SELL, "1.5", "3000")])
    assert fmt_position(pf, pf.position(ETH.key)) == "short 1.5 at 3,000"


# -- prices and notionals -------------------------------------------------------------------
def test_last_price_is_none_before_the_first_trade_then_the_shortest_repr():
    pf = portfolio_with(instruments=(BTC, ETH), marks={BTC: 50_000.1})
    assert last_price(pf, ETH.key) is None
    assert last_price(pf, BTC.key) == Decimal("50000.1")
    pf.mark(ETH.key, 0.1, T0 + 1)
    assert str(last_price(pf, ETH.key)) == "0.1"


def test_position_notional_at_the_last_price_gross():
    pf = portfolio_with([(BTC, Side.BUY, "0.5", "50000"), (ETH, Side.SELL, "2", "3000")])
    assert position_notional(pf, pf.position(BTC.key)) == Decimal("25000")
    assert position_notional(pf, pf.position(ETH.key)) == Decimal("6000")  # a short counts too
    pf.mark(BTC.key, 52_000.0, T0 + 10)
    assert position_notional(pf, pf.position(BTC.key)) == Decimal("26000")


def test_position_notional_at_the_average_price_before_the_first_trade():
    pf = portfolio_with(instruments=(BTC,))
    book_fill(pf, BTC, Side.BUY, "0.5", "50000", mark=False)
    assert last_price(pf, BTC.key) is None
    assert position_notional(pf, pf.position(BTC.key)) == Decimal("25000")
    restored = Position(instrument=ETH.key, quantity=Decimal("-2"), avg_price=Decimal("3000"))
    assert position_notional(portfolio_with(instruments=(ETH,)), restored) == Decimal("6000")


def test_position_notional_after_a_trade_uses_that_trade_even_at_zero():
    """Only "no trade yet" falls back to the average price; the portfolio's equity agrees."""
    pf = portfolio_with([(BTC, Side.BUY, "0.5", "50000")])
    pf.mark(BTC.key, 0.0, T0 + 1)
    assert position_notional(pf, pf.position(BTC.key)) == Decimal(0)


def test_order_notional_at_the_limit_else_the_stop_else_the_last_price():
    pf = portfolio_with(instruments=(ETH,), marks={BTC: 50_000.0})
    assert order_notional(pf, make_order("l", BTC, Side.BUY, "0.1", "49000")) == Decimal("4900")
    stop = make_order("s", BTC, Side.BUY, "0.1", stop_price="51000")
    assert stop.type is OrderType.STOP
    assert order_notional(pf, stop) == Decimal("5100")
    market = make_order("m", BTC, Side.SELL, "0.1")
    assert market.type is OrderType.MARKET
    assert order_notional(pf, market) == Decimal("5000")
    # A market order before the instrument's first trade has no price yet: it counts nothing.
    assert order_notional(pf, make_order("m2", ETH, Side.BUY, "1")) == Decimal(0)


def test_open_entry_orders_leave_out_reduce_only_and_keep_the_order():
    pf = portfolio_with(instruments=(BTC, ETH))
    orders = [
        make_order("e1", BTC, Side.BUY, "0.1", "49000"),
        make_order("x1", BTC, Side.SELL, "0.1", reduce_only=True),
        make_order("e2", ETH, Side.SELL, "1", "3100"),
        make_order("e3", BTC, Side.SELL, "0.2", "51000"),
    ]
    for o in orders:
        pf.order_opened(o)
    assert [o.client_order_id for o in open_entry_orders(pf)] == ["e1", "e2", "e3"]
    assert [o.client_order_id for o in open_entry_orders(pf, BTC.key)] == ["e1", "e3"]
    assert open_entry_orders(pf, "binance:SOLUSDT") == []


def test_signal_notional_and_an_unsized_signal():
    assert signal_notional(make_signal(BTC, entry="50000", quantity="0.16")) == Decimal("8000")
    with pytest.raises(ValueError, match="signal for binance:BTCUSDT has no quantity"):
        signal_notional(make_signal(BTC, quantity=None))


# -- the builders ---------------------------------------------------------------------------
def test_portfolio_with_books_real_fills_and_marks():
    pf = portfolio_with(
        [(BTC, Side.BUY, "0.02", "50000"), (BTC, Side.BUY, "0.02", "51000")],
        cash="5000",
        marks={ETH: 3000},
    )
    pos = pf.position(BTC.key)
    assert pos.quantity == Decimal("0.04") and pos.avg_price == Decimal("50500")
    assert pf.cash == Decimal(5000) and pf.equity() == Decimal("5020")  # 0.04 × (51,000 − 50,500)
    assert last_price(pf, ETH.key) == Decimal(3000)
    assert pf.ts_ns == T0 + 1  # fills at T0, T0 + 1; the marks at the last fill's time
    assert pf.instrument(ETH.key) is ETH
    flat = portfolio_with(instruments=(BTC,))
    assert flat.positions() == [] and flat.equity() == Decimal(10_000)
    assert last_price(flat, BTC.key) is None


def test_book_fill_marks_unless_told_not_to():
    pf = portfolio_with([(BTC, Side.BUY, "1", "50000")])
    book_fill(pf, BTC, Side.SELL, "1", "49000", ts_ns=T0 + 5, mark=False)
    assert pf.position(BTC.key).is_flat and pf.cash == Decimal(9000)
    assert last_price(pf, BTC.key) == Decimal(50000) and pf.ts_ns == T0
    book_fill(pf, BTC, Side.BUY, "1", "49500", ts_ns=T0 + 6)
    assert last_price(pf, BTC.key) == Decimal(49500) and pf.ts_ns == T0 + 6


def test_make_signal_puts_the_stop_on_the_protective_side():
    buy = make_signal(BTC, Side.BUY, "50000")
    assert buy.instrument == BTC.key and buy.stop == Decimal("49750") and buy.score == 5.0
    assert buy.quantity == Decimal("0.01") and buy.ts_ns == T0 + NS_MIN and buy.intent == "open"
    sell = make_signal(BTC.key, Side.SELL, "50000", stop_pct="0.01", quantity=None)
    assert sell.stop == Decimal("50500") and sell.quantity is None
    fixed = make_signal(ETH, Side.SELL, 3000, stop="3015", ts_ns=T0, intent="close")
    assert fixed.stop == Decimal("3015") and fixed.ts_ns == T0 and fixed.intent == "close"


def test_make_order_type_follows_the_prices():
    assert make_order("a", BTC, Side.BUY, "1", "50000").type is OrderType.LIMIT
    assert make_order("b", BTC, Side.BUY, "1", stop_price="51000").type is OrderType.STOP
    both = make_order("c", BTC, Side.BUY, "1", "51100", stop_price="51000")
    assert both.type is OrderType.STOP_LIMIT
    market = make_order("d", BTC.key, Side.SELL, "1", reduce_only=True)
    assert market.type is OrderType.MARKET and market.reduce_only and market.price is None
