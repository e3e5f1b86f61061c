"""The max-positions filter on a real portfolio, with the seed's "4/5 positions" boundary."""

from __future__ import annotations

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import T0, book_fill, make_order, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_maxpositions import MaxPositionsConfig, MaxPositionsFilter

SYMBOLS = ("BTCUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ETHUSDT", "ADAUSDT")
INST = {
    s: Instrument(venue="binance", symbol=s, kind=InstrumentKind.PERP, tick_size="0.0001")
    for s in SYMBOLS
}
# The four positions open in the seed's scenario 2 ("4/5 positions"), at their prices.
FOUR = (("BTCUSDT", "0.004", "50000"), ("SOLUSDT", "3", "100"), ("XRPUSDT", "400", "0.5"),
        ("DOGEUSDT", "2000", "0.1"))  # fmt: skip


def book(*longs: tuple[str, str, str]) -> Portfolio:
    """10,000 USDT of cash and a long ``(symbol, quantity, price)`` each, filled and marked."""
    holdings = [(INST[sym], Side.BUY, qty, price) for sym, qty, price in longs]
    return portfolio_with(holdings, instruments=INST.values())


def signal(sym: str, entry: str, qty: str = "0.05", intent: str = "open") -> Signal:
    """A long signal with a stop 0.5 % below the entry."""
    return make_signal(INST[sym], Side.BUY, entry, quantity=qty, intent=intent)


def test_seed_scenario_2_passes_at_four_of_five_positions():
    """Seed: "[PositionLimitHandler] → ✅ Pass (4/5 positions)": the fifth position may open."""
    pf = book(*FOUR)
    assert len(pf.positions()) == 4
    assert MaxPositionsFilter(MaxPositionsConfig()).check(signal("ETHUSDT", "3000"), pf) is None


def test_with_five_of_five_open_a_sixth_is_rejected():
    """The seed's rule ``len(open_positions) >= max_open_positions`` → REJECT."""
    pf = book(*FOUR, ("ETHUSDT", "0.05", "3000"))
    sig = signal("ADAUSDT", "0.25", qty="400")
    veto = MaxPositionsFilter(MaxPositionsConfig()).check(sig, pf)
    assert veto is not None
    assert veto.filter == "maxpositions" and veto.action == ""
    assert veto.reason == (
        "max open positions reached: 5 open positions, max 5; no room for binance:ADAUSDT"
    )
    assert veto.signal is sig and veto.ts_ns == sig.ts_ns


def test_adding_to_an_instrument_already_held_takes_no_new_slot():
    pf = book(*FOUR, ("ETHUSDT", "0.05", "3000"))
    assert MaxPositionsFilter(MaxPositionsConfig()).check(signal("ETHUSDT", "3000"), pf) is None


def test_a_closed_position_frees_its_slot():
    pf = book(*FOUR, ("ETHUSDT", "0.05", "3000"))
    book_fill(
        pf, INST["SOLUSDT"], Side.SELL, "3", "101", ts_ns=T0 + 10, client_order_id="x", mark=False
    )
    assert MaxPositionsFilter(MaxPositionsConfig()).check(signal("ADAUSDT", "0.25"), pf) is None


def test_a_pending_entry_order_takes_a_slot():
    pf = book(*FOUR)
    pf.order_opened(make_order("e1", INST["ETHUSDT"], Side.BUY, "0.05", "2990"))
    flt = MaxPositionsFilter(MaxPositionsConfig())
    veto = flt.check(signal("ADAUSDT", "0.25"), pf)
    assert veto is not None
    assert veto.reason == (
        "max open positions reached: 4 open positions + 1 pending entry, max 5; "
        "no room for binance:ADAUSDT"
    )
    # Off, the pending order is not counted; a reduce-only close never is.
    assert (
        MaxPositionsFilter(MaxPositionsConfig(count_open_orders=False)).check(
            signal("ADAUSDT", "0.25"), pf
        )
        is None
    )


def test_a_reduce_only_order_takes_no_slot():
    pf = book(*FOUR)
    pf.order_opened(make_order("x1", INST["BTCUSDT"], Side.SELL, "0.004", reduce_only=True))
    assert MaxPositionsFilter(MaxPositionsConfig()).check(signal("ETHUSDT", "3000"), pf) is None


def test_closing_signals_always_pass():
    pf = book(*FOUR, ("ETHUSDT", "0.05", "3000"))
    flt = MaxPositionsFilter(MaxPositionsConfig(max_open_positions=1))
    assert flt.check(signal("ADAUSDT", "0.25", intent="close"), pf) is None


def test_config():
    assert structure({"max_open_positions": 3}, MaxPositionsConfig).max_open_positions == 3
    with pytest.raises(ConfigError, match="max_open_positions must be at least 1"):
        structure({"max_open_positions": 0}, MaxPositionsConfig)
    with pytest.raises(ConfigError, match="expected an integer"):
        structure({"max_open_positions": 2.5}, MaxPositionsConfig)
