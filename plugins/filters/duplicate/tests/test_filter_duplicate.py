"""The duplicate filter: pending entry orders of a real portfolio, and repeated signals."""

from __future__ import annotations

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Order, Side, Signal
from tradewind.testing.portfolios import T0, book_fill, make_order, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_duplicate import DuplicateConfig, DuplicateFilter

S = 10**9
BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")


def book() -> Portfolio:
    """10,000 USDT, flat, BTC last traded at 50,000."""
    return portfolio_with(marks={BTC: 50_000.0})


def entry_order(cid: str, side: Side = Side.BUY, reduce_only: bool = False) -> Order:
    """A resting limit order of 0.01 BTC at 49,990."""
    return make_order(cid, BTC, side, "0.01", "49990", reduce_only=reduce_only)


def signal(t_s: float, side: Side = Side.BUY, entry: str = "50000", intent: str = "open") -> Signal:
    """A signal ``t_s`` seconds after T0 with a stop 0.5 % away and 0.01 BTC."""
    return make_signal(BTC, side, entry, quantity="0.01", ts_ns=T0 + round(t_s * S), intent=intent)


def test_an_open_entry_order_refuses_a_second_entry_until_it_fills():
    pf = book()
    flt = DuplicateFilter(DuplicateConfig())
    pf.order_opened(entry_order("tw-7"))
    sig = signal(0)
    veto = flt.check(sig, pf)
    assert veto is not None
    assert veto.filter == "duplicate" and veto.action == "" and veto.signal is sig
    assert veto.reason == "entry order tw-7 (buy 0.01 binance:BTCUSDT) is still open"
    # The order fills and leaves the open orders: the entry is no longer pending.
    book_fill(pf, BTC, Side.BUY, "0.01", "49990", ts_ns=T0 + S, client_order_id="tw-7", mark=False)
    pf.order_closed("tw-7")
    assert flt.check(sig, pf) is None


def test_reduce_only_and_opposite_side_orders_are_not_entries_of_this_side():
    pf = book()
    pf.order_opened(entry_order("x1", side=Side.BUY, reduce_only=True))
    pf.order_opened(entry_order("e2", side=Side.SELL))
    assert DuplicateFilter(DuplicateConfig()).check(signal(0), pf) is None


def test_open_order_check_can_be_turned_off():
    pf = book()
    pf.order_opened(entry_order("tw-7"))
    assert DuplicateFilter(DuplicateConfig(check_open_orders=False)).check(signal(0), pf) is None


def test_identical_signal_within_the_window_is_refused():
    pf, flt = book(), DuplicateFilter(DuplicateConfig())
    assert flt.check(signal(0), pf) is None
    veto = flt.check(signal(12.5), pf)
    assert veto is not None
    assert veto.reason == (
        "identical buy signal for binance:BTCUSDT (entry 50,000, stop 49,750, quantity 0.01) "
        "12.5s ago, within the 60s window"
    )


def test_the_window_runs_from_the_signal_that_passed():
    pf, flt = book(), DuplicateFilter(DuplicateConfig())
    assert flt.check(signal(0), pf) is None
    assert flt.check(signal(59.999), pf) is not None  # refused: does not extend the window
    assert flt.check(signal(60), pf) is None  # the next 1m candle's decision
    assert flt.check(signal(100), pf) is not None  # 40 s after the one that passed


def test_a_different_signal_or_side_is_not_a_duplicate():
    pf, flt = book(), DuplicateFilter(DuplicateConfig())
    assert flt.check(signal(0), pf) is None
    assert flt.check(signal(1, entry="50010"), pf) is None
    assert flt.check(signal(2, side=Side.SELL, entry="50010"), pf) is None


def test_window_zero_turns_the_identity_check_off():
    pf, flt = book(), DuplicateFilter(DuplicateConfig(window_s=0))
    assert flt.check(signal(0), pf) is None
    assert flt.check(signal(0), pf) is None


def test_reset_forgets():
    pf, flt = book(), DuplicateFilter(DuplicateConfig())
    assert flt.check(signal(0), pf) is None
    flt.reset()
    assert flt.check(signal(1), pf) is None


def test_closing_signals_always_pass_and_are_not_remembered():
    pf, flt = book(), DuplicateFilter(DuplicateConfig())
    pf.order_opened(entry_order("tw-7", side=Side.SELL))
    assert flt.check(signal(0, side=Side.SELL, intent="close"), pf) is None
    assert flt.check(signal(0, intent="close"), pf) is None
    assert flt.check(signal(1), pf) is None


def test_config():
    assert structure({"window_s": 5}, DuplicateConfig).window_s == 5.0
    with pytest.raises(ConfigError, match="window_s must not be negative"):
        structure({"window_s": -1}, DuplicateConfig)
