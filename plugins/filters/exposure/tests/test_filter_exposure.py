"""The exposure filter on a real portfolio: the seed's scenario 2, 1,050 > 1,000."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Instrument, InstrumentKind, Side, Signal
from tradewind.testing.portfolios import T0, make_order, make_signal, portfolio_with
from tradewind.trading.portfolio import Portfolio

from tradewind_filter_exposure import ExposureConfig, ExposureFilter

SYMBOLS = ("BTCUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ETHUSDT")
INST = {
    s: Instrument(venue="binance", symbol=s, kind=InstrumentKind.PERP, tick_size="0.0001")
    for s in SYMBOLS
}
# Four open longs worth 200 + 300 + 200 + 200 = 900 USDT: the seed's "4/5 positions".
FOUR = (("BTCUSDT", "0.004", "50000"), ("SOLUSDT", "3", "100"), ("XRPUSDT", "400", "0.5"),
        ("DOGEUSDT", "2000", "0.1"))  # fmt: skip


def book(*fills: tuple[str, str, str], side: Side = Side.BUY) -> Portfolio:
    """10,000 USDT of cash and each ``(symbol, quantity, price)`` filled and marked."""
    holdings = [(INST[sym], side, qty, price) for sym, qty, price in fills]
    return portfolio_with(holdings, instruments=INST.values())


def signal(sym: str, entry: str, qty: str | None, intent: str = "open") -> Signal:
    """A long signal with a stop 0.5 % below the entry."""
    return make_signal(INST[sym], Side.BUY, entry, quantity=qty, intent=intent)


def test_seed_scenario_2_buy_ethusdt_at_3000_exposure_1050_over_1000_is_rejected():
    """Seed: "BUY ETHUSDT @ $3,000 → ✅ Pass (4/5 positions) → REJECT: Exposure limit would be
    exceeded: $1,050 > $1,000"."""
    pf = book(*FOUR)
    sig = signal("ETHUSDT", "3000", "0.05")  # 150 USDT
    flt = ExposureFilter(ExposureConfig())  # the seed's max of 1,000 is the default
    assert flt.exposure(pf) == Decimal("900")
    veto = flt.check(sig, pf)
    assert veto is not None
    assert veto.filter == "exposure" and veto.action == ""
    assert veto.reason == "exposure 1,050.00 would exceed max 1,000.00 (open 900.00 + new 150.00)"
    assert veto.signal is sig and veto.ts_ns == sig.ts_ns


def test_exactly_the_max_passes():
    pf = book(*FOUR)
    assert ExposureFilter(ExposureConfig()).check(signal("ETHUSDT", "2000", "0.05"), pf) is None


def test_exposure_is_marked_to_the_last_trade():
    pf = book(*FOUR)
    flt = ExposureFilter(ExposureConfig())
    assert flt.check(signal("ETHUSDT", "2000", "0.05"), pf) is None  # 900 + 100
    pf.mark(INST["BTCUSDT"].key, 50_250.0, T0 + 100)  # BTC long now worth 201
    veto = flt.check(signal("ETHUSDT", "2000", "0.05"), pf)
    assert veto is not None
    assert veto.reason == "exposure 1,001.00 would exceed max 1,000.00 (open 901.00 + new 100.00)"


def test_shorts_count_gross():
    pf = book(("BTCUSDT", "0.004", "50000"), ("SOLUSDT", "3", "100"), side=Side.SELL)
    veto = ExposureFilter(ExposureConfig(max_usd="600")).check(
        signal("ETHUSDT", "3000", "0.05"), pf
    )
    assert veto is not None
    assert veto.reason == "exposure 650.00 would exceed max 600.00 (open 500.00 + new 150.00)"


def test_pending_entry_orders_count_and_reduce_only_orders_do_not():
    pf = book(*FOUR)
    pf.order_opened(make_order("e1", INST["ETHUSDT"], Side.BUY, "0.02", "2500"))
    pf.order_opened(make_order("x1", INST["SOLUSDT"], Side.SELL, "3", reduce_only=True))
    flt = ExposureFilter(ExposureConfig())
    assert flt.exposure(pf) == Decimal("950")
    veto = flt.check(signal("ETHUSDT", "2000", "0.05"), pf)
    assert veto is not None
    assert veto.reason == "exposure 1,050.00 would exceed max 1,000.00 (open 950.00 + new 100.00)"
    off = ExposureFilter(ExposureConfig(count_open_orders=False))
    assert off.check(signal("ETHUSDT", "2000", "0.05"), pf) is None


def test_per_instrument_cap():
    pf = book(*FOUR)
    flt = ExposureFilter(ExposureConfig(max_usd="10000", max_instrument_usd="250"))
    assert flt.check(signal("ETHUSDT", "3000", "0.05"), pf) is None  # 150 in ETH
    veto = flt.check(signal("BTCUSDT", "50000", "0.002"), pf)  # 200 held + 100
    assert veto is not None
    assert veto.reason == (
        "binance:BTCUSDT exposure 300.00 would exceed max 250.00 per instrument "
        "(open 200.00 + new 100.00)"
    )


def test_an_unsized_signal_is_refused():
    veto = ExposureFilter(ExposureConfig()).check(signal("ETHUSDT", "3000", None), book())
    assert veto is not None
    assert veto.reason == "signal for binance:ETHUSDT has no quantity to check"


def test_closing_signals_always_pass():
    pf = book(*FOUR)
    assert (
        ExposureFilter(ExposureConfig(max_usd="1")).check(
            signal("BTCUSDT", "50000", "0.004", intent="close"), pf
        )
        is None
    )


def test_config_from_toml_values():
    cfg = structure({"max_usd": 2500.5, "max_instrument_usd": "500"}, ExposureConfig)
    assert cfg.max_usd == Decimal("2500.5") and cfg.max_instrument_usd == Decimal("500")
    assert ExposureConfig(max_usd=0.1).max_usd == Decimal("0.1")
    with pytest.raises(ConfigError, match="max_usd must be positive"):
        structure({"max_usd": 0}, ExposureConfig)
    with pytest.raises(ConfigError, match=r"@ \$.max_usd"):
        structure({"max_usd": "lots"}, ExposureConfig)


def _exposure_before(flt: ExposureFilter, ctx: Portfolio, instrument: str | None) -> Decimal:
    """``ExposureFilter.exposure`` as it was before it skipped the sums of nothing."""
    from tradewind.filtering.helpers import open_entry_orders, order_notional, position_notional

    total = sum(
        (
            position_notional(ctx, p)
            for p in ctx.positions()
            if instrument is None or p.instrument == instrument
        ),
        Decimal(0),
    )
    if flt.config.count_open_orders:
        total += sum(
            (order_notional(ctx, o) for o in open_entry_orders(ctx, instrument)), Decimal(0)
        )
    return total


def test_exposure_is_the_sums_it_was_with_or_without_positions_and_orders():
    """Flat or not, with or without pending entries (and exits), of one instrument or all,
    counting orders or not: the same Decimal as the sums over every position and order (the
    same value, sign and exponent), also when there is nothing to sum."""
    import random

    from tradewind.testing.portfolios import make_order

    rng = random.Random(5)
    seen_empty = seen_full = 0
    for _ in range(400):
        held = rng.sample(FOUR, rng.randint(0, len(FOUR)))
        side = rng.choice([Side.BUY, Side.SELL])
        pf = book(*held, side=side)
        for n in range(rng.choice([0, 0, 1, 2])):
            sym = rng.choice(SYMBOLS)
            price = rng.choice([None, str(rng.randint(1, 9000))])
            pf.order_opened(
                make_order(
                    f"o{n}", INST[sym], Side.BUY, "0.5", price, reduce_only=rng.random() < 0.3
                )
            )
        flt = ExposureFilter(ExposureConfig(count_open_orders=rng.random() < 0.7))
        for instrument in (None, *(INST[s].key for s in SYMBOLS)):
            want = _exposure_before(flt, pf, instrument)
            got = flt.exposure(pf, instrument)
            assert type(got) is Decimal and got.as_tuple() == want.as_tuple()
        empty = not pf.positions() and not pf.open_orders()
        seen_empty += empty
        seen_full += not empty
    assert seen_empty > 20 and seen_full > 200
