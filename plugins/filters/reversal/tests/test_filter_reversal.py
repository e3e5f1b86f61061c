"""The reversal filter on a real portfolio: an opposing signal closes the position first."""

from __future__ import annotations

from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import T0, book_fill, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_reversal import ReversalConfig, ReversalFilter

BTC = Instrument(venue="binance", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1")
ETH = Instrument(venue="binance", symbol="ETHUSDT", kind=InstrumentKind.PERP, tick_size="0.01")


def fill(pf: Portfolio, inst: Instrument, side: Side, qty: str, price: str, n: int) -> None:
    """Book a real fill and mark the instrument at its price."""
    book_fill(pf, inst, side, qty, price, ts_ns=T0 + n, client_order_id=f"c{n}")


def book() -> Portfolio:
    """10,000 USDT, flat."""
    return portfolio_with(instruments=(BTC, ETH))


def signal(
    inst: Instrument, side: Side, entry: str, score: float = 5.0, intent: str = "open"
) -> Signal:
    """A signal with a stop 0.5 % away and a quantity of 0.01."""
    return make_signal(inst, side, entry, quantity="0.01", score=score, intent=intent)


def test_sell_signal_against_an_open_long_closes_the_long_first():
    pf = book()
    fill(pf, BTC, Side.BUY, "0.01", "50000", 1)
    sig = signal(BTC, Side.SELL, "49800")
    veto = ReversalFilter(ReversalConfig()).check(sig, pf)
    assert veto is not None
    assert veto.filter == "reversal"
    assert veto.action == "close_opposite"
    assert veto.reason == (
        "sell signal for binance:BTCUSDT opposes the open long 0.01 at 50,000: closing it first"
    )
    assert veto.signal is sig and veto.ts_ns == sig.ts_ns


def test_once_the_engine_closed_the_long_the_same_signal_passes():
    pf = book()
    fill(pf, BTC, Side.BUY, "0.01", "50000", 1)
    flt = ReversalFilter(ReversalConfig())
    sig = signal(BTC, Side.SELL, "49800")
    assert flt.check(sig, pf) is not None
    fill(pf, BTC, Side.SELL, "0.01", "49800", 2)  # what the engine does on close_opposite
    assert pf.position(BTC.key).is_flat
    assert flt.check(sig, pf) is None


def test_buy_signal_against_an_open_short():
    pf = book()
    fill(pf, ETH, Side.SELL, "1.5", "3000", 1)
    veto = ReversalFilter(ReversalConfig()).check(signal(ETH, Side.BUY, "3010.5"), pf)
    assert veto is not None and veto.action == "close_opposite"
    assert veto.reason == (
        "buy signal for binance:ETHUSDT opposes the open short 1.5 at 3,000: closing it first"
    )


def test_same_side_and_flat_instruments_pass():
    pf = book()
    fill(pf, BTC, Side.BUY, "0.01", "50000", 1)
    flt = ReversalFilter(ReversalConfig())
    assert flt.check(signal(BTC, Side.BUY, "50100"), pf) is None  # the existing check's job
    assert flt.check(signal(ETH, Side.SELL, "3000"), pf) is None  # nothing open in ETH


def test_a_weak_opposing_signal_is_refused_and_the_position_kept():
    pf = book()
    fill(pf, BTC, Side.BUY, "0.01", "50000", 1)
    flt = ReversalFilter(ReversalConfig(min_score=5.0))
    veto = flt.check(signal(BTC, Side.SELL, "49800", score=3.0), pf)
    assert veto is not None and veto.action == ""
    assert veto.reason == (
        "sell signal for binance:BTCUSDT opposes the open long 0.01 at 50,000, but its score 3 "
        "is below min_score 5: position kept"
    )
    strong = flt.check(signal(BTC, Side.SELL, "49800", score=5.0), pf)
    assert strong is not None and strong.action == "close_opposite"


def test_closing_signals_always_pass():
    pf = book()
    fill(pf, BTC, Side.BUY, "0.01", "50000", 1)
    assert (
        ReversalFilter(ReversalConfig()).check(signal(BTC, Side.SELL, "49800", intent="close"), pf)
        is None
    )
