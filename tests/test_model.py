"""The domain model: frozen keyword-only values, quantisation, position accounting."""

from decimal import Decimal

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradewind.model import (
    Candle,
    Fill,
    Instrument,
    InstrumentKind,
    Order,
    OrderType,
    Position,
    Side,
    TickBatch,
)


def test_values_are_frozen_and_keyword_only():
    inst = Instrument(venue="sim", symbol="BTCUSDT")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        inst.symbol = "ETHUSDT"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Instrument("sim", "BTCUSDT")  # type: ignore[misc]
    assert attrs.evolve(inst, symbol="ETHUSDT").symbol == "ETHUSDT"


def test_instrument_quantises_to_tick_and_lot():
    inst = Instrument(
        venue="sim", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size="0.1", lot_size="0.001"
    )
    assert inst.round_price(Decimal("50000.26")) == Decimal("50000.3")
    assert inst.round_price(50000.24) == Decimal("50000.2")
    assert inst.round_size(Decimal("0.0129")) == Decimal("0.012")  # rounds down, never up
    assert inst.key == "sim:BTCUSDT"
    with pytest.raises(ValueError, match="tick_size must be positive"):
        Instrument(venue="sim", symbol="X", tick_size="0")


def _quotient_rounding(x, step, rounding):
    """The formula round_price and round_size used for every step before the power-of-ten
    path: divide, round to an integer, multiply back."""
    from decimal import InvalidOperation

    try:
        return str((x / step).quantize(Decimal(1), rounding=rounding) * step)
    except InvalidOperation:
        return "InvalidOperation"


@pytest.mark.parametrize(
    "step", ["1", "0.1", "0.01", "0.001", "1E-8", "0.10", "0.5", "0.25", "5", "10", "1E+1"]
)
@given(
    st.one_of(
        # Decimals of any length (more digits than the context's precision included), and
        # floats: the one-quantize path takes floats only.
        st.decimals(allow_nan=False, allow_infinity=False, places=None),
        st.floats(allow_nan=False, allow_infinity=False),
        st.floats(0.0, 1e7),
        st.integers(0, 10**30).map(lambda n: Decimal(n).scaleb(-12)),
    ),
    st.sampled_from(
        ["ROUND_HALF_EVEN", "ROUND_DOWN", "ROUND_UP", "ROUND_HALF_UP", "ROUND_CEILING"]
    ),
)
def test_rounding_gives_the_same_decimal_as_the_quotient_formula(step, x, rounding):
    from decimal import InvalidOperation

    inst = Instrument(venue="v", symbol="S", tick_size=step, lot_size=step)
    try:
        price = str(inst.round_price(x, rounding))
    except InvalidOperation:
        price = "InvalidOperation"
    try:
        size = str(inst.round_size(x))
    except InvalidOperation:
        size = "InvalidOperation"
    # Same value and the same exponent (str shows both), and the same error past precision.
    d = Decimal(str(x)) if isinstance(x, float) else x
    assert price == _quotient_rounding(d, inst.tick_size, rounding)
    assert size == _quotient_rounding(d, inst.lot_size, "ROUND_DOWN")


def test_order_validates_prices_for_its_type():
    with pytest.raises(ValueError, match="limit order needs price"):
        Order(
            client_order_id="a",
            instrument="sim:X",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal(1),
        )
    with pytest.raises(ValueError, match="stop order needs stop_price"):
        Order(
            client_order_id="a",
            instrument="sim:X",
            side=Side.BUY,
            type=OrderType.STOP,
            quantity=Decimal(1),
        )
    with pytest.raises(ValueError, match="quantity must be positive"):
        Order(
            client_order_id="a",
            instrument="sim:X",
            side=Side.BUY,
            type=OrderType.MARKET,
            quantity=Decimal(0),
        )


def test_tick_batch_is_columnar_read_only_and_checks_lengths():
    b = TickBatch.from_arrays("sim:X", [1, 2, 3], [10.0, 11.0, 12.0], [1, 1, 1], [1, -1, 1])
    assert b.ts_ns.dtype == np.int64 and b.side.dtype == np.int8
    with pytest.raises(ValueError):
        b.price[0] = 5.0
    with pytest.raises(ValueError, match="column price has 2 rows"):
        TickBatch.from_arrays("sim:X", [1, 2, 3], [1.0, 2.0], [1, 1, 1], [1, 1, 1])
    head, tail = b.split_at_ts(2)
    assert list(head.ts_ns) == [1] and list(tail.ts_ns) == [2, 3]
    assert len(TickBatch.concat([head, tail])) == 3


def test_candle_close_time():
    c = Candle(
        instrument="sim:X",
        timeframe_ns=60,
        open_ts_ns=120,
        open=1,
        high=2,
        low=1,
        close=2,
        volume=1,
        buy_volume=1,
        sell_volume=0,
        trades=1,
        buy_trades=1,
        sell_trades=0,
        vwap=1.5,
    )
    assert c.close_ts_ns == 180


def _fill(side, qty, price, fee="0"):
    return Fill(
        client_order_id="c",
        instrument="sim:X",
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        ts_ns=1,
    )


def test_position_average_price_and_fifo_realised_pnl():
    p = Position(instrument="sim:X")
    p = p.apply(_fill(Side.BUY, "1", "100", "0.04"))
    p = p.apply(_fill(Side.BUY, "1", "110", "0.044"))
    assert p.quantity == 2 and p.avg_price == Decimal("105")
    p = p.apply(_fill(Side.SELL, "1.5", "120"))
    # FIFO: 1 @ 100 → +20, then 0.5 of the lot @ 110 → +5.
    assert p.quantity == Decimal("0.5") and p.realized_pnl == Decimal("25")
    assert p.avg_price == Decimal("110")
    # Flip: sell 1 more closes 0.5 @ 110 (−10) and opens 0.5 short at 90.
    p = p.apply(_fill(Side.SELL, "1", "90"))
    assert p.quantity == Decimal("-0.5") and p.avg_price == Decimal("90")
    assert p.realized_pnl == Decimal("15")
    assert p.fees == Decimal("0.084")


@given(
    st.lists(
        st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 50), st.integers(90, 110)),
        min_size=1,
        max_size=30,
    )
)
def test_position_reconciles_with_fills(fills):
    """Cash flows of the fills equal realised + unrealised P&L at any mark (exact)."""
    p = Position(instrument="sim:X")
    cash = Decimal(0)
    for side, q, px in fills:
        f = _fill(side, str(q), str(px))
        cash -= f.quantity * f.price * side.sign
        p = p.apply(f)
    mark = Decimal(100)
    assert p.quantity == sum(Decimal(q) * s.sign for s, q, _ in fills)
    assert cash + p.quantity * mark == p.realized_pnl + p.unrealized_pnl(mark)


def test_the_engine_copies_every_field_of_a_signal_it_sizes():
    """Engine._enter builds the sized signal field by field (attrs.evolve cost ~2 µs on the
    decision path): a field added to Signal must be added there too, or it would be lost."""
    from tradewind.model import Signal

    assert [f.name for f in attrs.fields(Signal)] == [
        "instrument",
        "side",
        "entry",
        "stop",
        "score",
        "ts_ns",
        "reasons",
        "quantity",
        "intent",
    ]


def _formula(x, step, rounding):
    """Divide by the step, round to an integer, multiply back."""
    return (x / step).quantize(Decimal(1), rounding=rounding) * step


def _outcome(fn, *args):
    """``fn(*args)``'s Decimal as ``str`` and its sign (value, exponent and the sign of a
    zero), or the type of what it raised."""
    try:
        d = fn(*args)
    except ArithmeticError as exc:
        return type(exc).__name__
    return str(d), d.is_signed()


@pytest.mark.parametrize("step", ["1", "0.1", "0.01", "1E-8", "0.10", "0.5", "10"])
@given(
    st.one_of(
        st.decimals(places=None),  # any length, NaN, sNaN and infinities included
        st.integers(-(10**40), 10**40).map(lambda n: Decimal(n).scaleb(-20)),
        # Long coefficients whose value the precision holds (trailing zeros).
        st.integers(-(10**6), 10**6).map(lambda n: Decimal(f"{n}.{'0' * 35}")),
        # Just below a half or a whole, past the precision: the formula's division rounds
        # them up to it first (a double rounding the one-quantize path must not take).
        st.tuples(
            st.integers(-1000, 1000), st.sampled_from(["4", "9", "04", "09"]), st.integers(5, 45)
        ).map(lambda t: Decimal(f"{t[0]}.{t[1]}{'9' * t[2]}")),
    ),
    st.integers(1, 40),
    st.sampled_from(["ROUND_HALF_EVEN", "ROUND_DOWN", "ROUND_UP", "ROUND_HALF_UP", "ROUND_FLOOR"]),
    st.sampled_from(["0.01", "0.013", "1.5", "3"]),
)
def test_decimal_rounding_gives_the_quotient_formula_s_decimal_in_any_context(
    step, x, prec, rounding, pct
):
    """round_price and round_size of a Decimal (the one-quantize path when the context's
    precision holds its value: a stop computed from an entry, a size from equity) against the
    formula divide, round, multiply back, in contexts of 1 to 40 digits: the same value,
    exponent and sign, or the same error; and for what the strategy and sizing compute."""
    from decimal import localcontext

    inst = Instrument(venue="v", symbol="S", tick_size=step, lot_size=step)
    with localcontext() as ctx:
        ctx.prec = prec
        ctx.rounding = rounding
        # Besides ``x``: a stop computed in the context from an entry (``entry ± entry * pct``).
        cases = [x]
        if x.is_finite():
            try:
                cases += [x - x * Decimal(pct), x + x * Decimal(pct), x / Decimal(pct)]
            except ArithmeticError:
                pass
        for d in cases:
            for r in ("ROUND_HALF_EVEN", rounding):
                assert _outcome(inst.round_price, d, r) == _outcome(_formula, d, inst.tick_size, r)
            assert _outcome(inst.round_size, d) == _outcome(
                _formula, d, inst.lot_size, "ROUND_DOWN"
            )


@given(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8))
def test_the_instrument_key_is_venue_colon_symbol_however_made(venue, symbol, other):
    """The key is made once, with the instrument: the same ``venue:symbol`` as before after
    ``attrs.evolve``, a pickle and a copy, and not part of equality, hash or repr."""
    import copy
    import pickle

    inst = Instrument(venue=venue, symbol=symbol)
    assert inst.key == f"{venue}:{symbol}"
    moved = attrs.evolve(inst, symbol=other)
    assert moved.key == f"{venue}:{other}"
    assert attrs.evolve(inst, venue=other).key == f"{other}:{symbol}"
    for again in (pickle.loads(pickle.dumps(inst)), copy.copy(inst), copy.deepcopy(inst)):
        assert again.key == inst.key and again == inst and hash(again) == hash(inst)
    assert "_key" not in repr(inst)
    assert (moved == inst) is (other == symbol)
