"""Order intents (entry, add, reduce, close, flip) and spot dust: what an order does to the
position it meets, and a holding too small to trade is no position (issue 9)."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from tradewind.filtering.context import FilterContext
from tradewind.model import Fill, Instrument, InstrumentKind, Side, Signal
from tradewind.trading.intents import holds, is_dust, order_intent, short_refused
from tradewind.trading.portfolio import Portfolio
from tradewind_filter_existing import ExistingConfig, ExistingPositionFilter
from tradewind_filter_maxpositions import MaxPositionsConfig, MaxPositionsFilter

D = Decimal

SPOT = Instrument(
    venue="spot",
    symbol="BTCUSDT",
    kind=InstrumentKind.SPOT,
    tick_size=D("0.01"),
    lot_size=D("0.00001"),
    min_notional=D("5"),
    base="BTC",
    quote="USDT",
)
ETH = Instrument(
    venue="spot",
    symbol="ETHUSDT",
    kind=InstrumentKind.SPOT,
    tick_size=D("0.01"),
    lot_size=D("0.0001"),
    min_notional=D("5"),
    base="ETH",
    quote="USDT",
)
PERP = Instrument(
    venue="perp",
    symbol="BTCUSDT",
    kind=InstrumentKind.PERP,
    tick_size=D("0.1"),
    lot_size=D("0.001"),
    min_notional=D("5"),
    base="BTC",
    quote="USDT",
)


@pytest.mark.parametrize(
    ("position", "side", "quantity", "intent"),
    [
        (D("0"), Side.BUY, D("0.1"), "entry"),
        (D("0"), Side.SELL, D("0.1"), "entry"),
        (D("0.1"), Side.BUY, D("0.05"), "add"),
        (D("-0.1"), Side.SELL, D("0.05"), "add"),
        (D("0.1"), Side.SELL, D("0.04"), "reduce"),
        (D("-0.1"), Side.BUY, D("0.04"), "reduce"),
        (D("0.1"), Side.SELL, D("0.1"), "close"),
        (D("-0.1"), Side.BUY, D("0.1"), "close"),
        (D("0.1"), Side.SELL, D("0.3"), "flip"),
        (D("-0.1"), Side.BUY, D("0.25"), "flip"),
        # Below one lot: dust is no position, so a buy or a sell against it opens one.
        (D("0.0004"), Side.SELL, D("0.1"), "entry"),
        (D("0.0004"), Side.BUY, D("0.1"), "entry"),
    ],
)
def test_the_intent_of_an_order_is_what_it_does_to_the_position(position, side, quantity, intent):
    assert order_intent(PERP, position, side, quantity, 60000.0) == intent


def test_a_close_that_leaves_only_dust_is_a_close_and_one_that_leaves_a_position_a_reduce():
    # 0.166 bought with the fee in BTC: 0.165834 held, 0.16583 sellable on a 0.00001 lot.
    assert order_intent(SPOT, D("0.165834"), Side.SELL, D("0.16583"), 60000.0) == "close"
    # The account holds 0.1 of a 0.166 position: selling it leaves 0.066 BTC (3960 USDT).
    assert order_intent(SPOT, D("0.166"), Side.SELL, D("0.1"), 60000.0) == "reduce"


def test_spot_dust_is_below_one_lot_or_below_the_minimum_notional_at_the_last_price():
    assert is_dust(SPOT, D("0.000004"))  # under one lot, price unknown
    assert is_dust(SPOT, D("0.00008"), 60000.0)  # 4.80 USDT < 5 USDT minimum notional
    assert not is_dust(SPOT, D("0.00009"), 60000.0)  # 5.40 USDT
    assert not is_dust(SPOT, D("0.00008"))  # no price yet: only the lot counts
    assert not is_dust(PERP, D("0.002"), 1000.0)  # a perpetual's minimum notional is no dust
    assert is_dust(PERP, D("0.0005"), 60000.0)  # but under one lot is
    assert not holds(SPOT, D("0"), 60000.0) and holds(SPOT, D("0.1"), 60000.0)
    assert not is_dust(None, D("0.0000001"))  # an unknown instrument has no dust


def _portfolio_with(holdings: dict[Instrument, tuple[Decimal, float]]) -> Portfolio:
    pf = Portfolio({i.key: i for i in holdings}, D("10000"))
    for n, (inst, (qty, price)) in enumerate(holdings.items()):
        pf.mark(inst.key, price, 1_000 + n)
        pf.apply_fill(
            Fill(
                client_order_id=f"o{n}",
                instrument=inst.key,
                side=Side.BUY,
                quantity=qty,
                price=D(repr(price)),
                fee=D(0),
                ts_ns=1_000 + n,
            )
        )
    return pf


def _buy(inst: Instrument) -> Signal:
    return Signal(
        instrument=inst.key,
        side=Side.BUY,
        entry=D("60000"),
        stop=D("59000"),
        score=1.0,
        ts_ns=2_000,
        quantity=D("0.01"),
    )


def test_spot_dust_blocks_no_entry_in_the_existing_filter():
    dust = FilterContext(_portfolio_with({SPOT: (D("0.00008"), 60000.0)}), {})
    held = FilterContext(_portfolio_with({SPOT: (D("0.01"), 60000.0)}), {})
    existing = ExistingPositionFilter(ExistingConfig(side="any"))
    assert dust.position(SPOT.key).is_flat
    assert existing.check(_buy(SPOT), dust) is None
    veto = existing.check(_buy(SPOT), held)
    assert veto is not None and veto.reason.startswith("position already exists for spot:BTCUSDT")


def test_spot_dust_fills_no_maxpositions_slot():
    # One slot; ETH holds dust (0.001 ETH at 3000 = 3 USDT < 5 USDT), so BTC may open.
    ctx = FilterContext(_portfolio_with({ETH: (D("0.001"), 3000.0)}), {})
    maxpos = MaxPositionsFilter(MaxPositionsConfig(max_open_positions=1))
    assert ctx.positions() == []
    assert maxpos.check(_buy(SPOT), ctx) is None
    # 0.01 ETH (30 USDT) is a position: the one slot is taken.
    full = FilterContext(_portfolio_with({ETH: (D("0.01"), 3000.0)}), {})
    assert [p.instrument for p in full.positions()] == [ETH.key]
    veto = maxpos.check(_buy(SPOT), full)
    assert veto is not None and veto.filter == "maxpositions"


class _Venue:
    def __init__(self, *caps: str) -> None:
        self.capabilities = frozenset(caps)


def test_a_sell_entry_on_spot_is_a_short_sale_only_a_margin_venue_carries():
    account = _Venue("execution", "account")
    assert short_refused(SPOT, Side.SELL, account)
    assert not short_refused(SPOT, Side.BUY, account)
    assert not short_refused(SPOT, Side.SELL, _Venue("execution", "account", "margin"))
    assert not short_refused(PERP, Side.SELL, account)  # a perpetual shorts by design
    # The simulated venue keeps no account: its spot shorts are simulated as on margin.
    assert not short_refused(SPOT, Side.SELL, _Venue("execution", "simulated"))


def test_the_engines_kept_holds_answer_is_holds_afresh_as_prices_positions_and_instruments_change():
    """Engine._holds keeps its last answer for the same position and instrument objects when
    the price plays no part (not a spot instrument with a minimum notional): over random
    positions (dust, a lot, flat, short), instruments (perpetual, spot with and without a
    minimum notional, unknown) and last prices moving across the notional, every answer is
    ``holds`` computed afresh."""
    import random
    from types import SimpleNamespace

    from tradewind.model import Position
    from tradewind.trading.engine import Engine

    rng = random.Random(17)
    key = "sim:BTCUSDT"
    kinds = [
        Instrument(venue="sim", symbol="BTCUSDT", kind=InstrumentKind.PERP, lot_size="0.001"),
        Instrument(venue="sim", symbol="BTCUSDT", kind=InstrumentKind.SPOT, lot_size="0.001"),
        Instrument(
            venue="sim",
            symbol="BTCUSDT",
            kind=InstrumentKind.SPOT,
            lot_size="0.001",
            min_notional="10",
        ),
        None,
    ]
    quantities = ["0", "0.0005", "0.001", "0.002", "-0.002", "0.5", "-0.0009"]
    pool = [Position(instrument=key, quantity=Decimal(q)) for q in quantities]
    prices = {key: 5000.0}
    portfolio = SimpleNamespace(last_price=lambda k: prices.get(k, float("nan")))
    engine = SimpleNamespace(instruments={}, portfolio=portfolio, _held=None)
    inst, pos = kinds[0], pool[0]
    kept = 0
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.05:
            inst = rng.choice(kinds)
        elif roll < 0.1:
            # The same instrument as a new (equal) object: the kept answer is not reused.
            inst = attrs.evolve(inst) if inst is not None else None
        if inst is None:
            engine.instruments.pop(key, None)
        else:
            engine.instruments[key] = inst
        if rng.random() < 0.5:
            prices[key] = rng.choice([1000.0, 4999.0, 5000.0, 20000.0, float("nan"), 0.0])
        if rng.random() < 0.3:
            pos = rng.choice(pool)
        before = engine._held
        got = Engine._holds(engine, pos)  # type: ignore[arg-type]
        kept += before is not None and before[0] is pos and before[1] is inst
        assert got == holds(inst, pos.quantity, prices[key]), (inst, pos.quantity, prices[key])
    assert kept > 1000
