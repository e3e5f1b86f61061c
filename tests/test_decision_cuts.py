"""The decision span's compiled and cached paths against the code they replace: the same
values, bits and types (or the same refusal) on every input."""

from __future__ import annotations

import math
import random
import struct
from typing import Any

import attrs
import pytest
from tradewind.market import candles
from tradewind.market.candles import _DEN, _Open

#: An exact sum of 2**-1074 units, as the aggregator keeps them.
UNIT = 1074


def _bits(rec: tuple[Any, ...]) -> list[tuple[type, Any]]:
    """Each field's type and exact value (a float's bits, so -0.0 and NaNs count)."""
    return [(type(v), struct.pack("<d", v) if type(v) is float else v) for v in rec]


def _exact(x: float) -> int:
    """``x`` as an integer of 2**-1074 units."""
    m, e = math.frexp(x)
    return int(m * 2**53) << (e - 53 + UNIT) if e - 53 + UNIT >= 0 else 0


def _random_sum(rng: random.Random) -> int:
    kind = rng.randrange(7)
    if kind == 0:  # a real candle's sum of sizes
        return sum(_exact(rng.lognormvariate(-3, 2)) for _ in range(rng.randint(1, 60)))
    if kind == 1:  # exactly half-way between two floats: rounds to the even one
        return ((rng.getrandbits(53) | 1 << 52) * 2 + 1) << rng.randint(0, 1900)
    if kind == 2:  # just off half-way, either side
        return (((rng.getrandbits(53) | 1 << 52) * 2 + 1) << 40) + rng.choice([-1, 1])
    if kind == 3:  # a quotient in or near the subnormal range (the reference's rounding)
        return rng.getrandbits(rng.randint(1, 60))
    if kind == 4:  # near the largest float, and past it
        return rng.getrandbits(rng.randint(2090, 2102))
    if kind == 5:
        return 0
    return rng.getrandbits(rng.randint(1, 2098))


def _random_open(rng: random.Random) -> _Open:
    low = rng.choice([rng.uniform(1, 1e5), 0.5, 1e-300, float("nan"), float("inf")])
    high = rng.choice([low, low * 1.01, rng.uniform(1, 1e5), float("nan"), -0.0])
    if rng.random() < 0.03:
        low = int(low) if math.isfinite(low) else 7  # not a float: the reference's rules
    return _Open(
        open_ts=rng.randrange(2**62),
        open=rng.uniform(1, 1e5),
        high=high,
        low=low,
        close=rng.uniform(1, 1e5),
        trades=rng.randrange(10**6),
        buy_trades=rng.randrange(10**6),
        sell_trades=rng.randrange(10**6),
        other=_random_sum(rng),
        buy=_random_sum(rng),
        sell=_random_sum(rng),
        pv=_random_sum(rng),
    )


def test_a_forming_candle_s_record_is_the_reference_s_bits_or_its_refusal() -> None:
    """``_Open.row`` through the compiled kernel (``_kernels.row``) against the Python
    formula it replaces (``reference_row``: ``n / 2**1074`` by Python's long division, vwap
    by ``min(max(pv / volume, low), high)``), on sums of real sizes, half-way cases, quotients
    near the subnormal range and past the largest float, zero volumes, NaN and odd extremes."""
    assert candles._row is not None  # the kernel is built: this compares the two paths
    rng = random.Random(17)
    compiled = 0
    for _ in range(20_000):
        o = _random_open(rng)
        try:
            want = o.reference_row()
        except (ZeroDivisionError, OverflowError) as exc:
            with pytest.raises(type(exc)):
                o.row()
            continue
        assert _bits(o.row()) == _bits(want), o
        compiled += (
            candles._row(*(getattr(o, a) for a in o.__slots__ if a != "__weakref__")) is not None
        )
    assert compiled > 10_000


def test_the_kernel_s_quotient_is_python_s_true_division_near_every_power_of_two() -> None:
    """Around each binary order of magnitude a quotient can take (normal, subnormal,
    overflowing), the kernel's record holds ``n / 2**1074`` as Python divides it."""
    assert candles._row is not None
    for e in range(0, 2100, 3):
        for n in ((1 << e) - 1, 1 << e, (1 << e) + 1, (3 << e) // 2, ((1 << 54) + 1) << e):
            o = _Open(0, 1.0, 2.0, 0.5, 1.5, 1, 0, 0, 0, n, n, n)
            try:
                want = o.reference_row()
            except (ZeroDivisionError, OverflowError) as exc:
                with pytest.raises(type(exc)):
                    o.row()
                continue
            assert _bits(o.row()) == _bits(want), (e, n)
            assert o.row()[6] == n / _DEN


_QUANTITIES = [
    "0", "-0", "0E+5", "0E-9", "0.000", "1", "-1", "0.0005", "-0.0005", "0.001", "12.5",
    "1E-30", "NaN", "-NaN", "Infinity", "-Infinity",
]  # fmt: skip


def test_a_position_is_flat_as_its_quantity_equals_zero() -> None:
    """``Position.is_flat`` (``quantity == ZERO``) against ``quantity == 0`` on zeros of
    every sign and exponent, dust, NaN, infinities, and the sNaN both refuse to compare."""
    from decimal import Decimal, InvalidOperation

    from tradewind.model import Position

    for q in _QUANTITIES:
        pos = Position(instrument="sim:X", quantity=Decimal(q))
        assert pos.is_flat == (Decimal(q) == 0), q
    for q in (0, 0.0, 1, -2.5, float("nan")):  # not a Decimal: the same verdict
        assert Position(instrument="sim:X", quantity=q).is_flat == (q == 0)  # type: ignore[arg-type]
    snan = Position(instrument="sim:X", quantity=Decimal("sNaN"))
    with pytest.raises(InvalidOperation):
        Decimal("sNaN") == 0  # noqa: B015
    with pytest.raises(InvalidOperation):
        snan.is_flat  # noqa: B018


def test_the_filters_position_of_a_flat_holding_is_what_the_dust_check_gives() -> None:
    """``FilterContext.position`` returns a flat position without the dust check's lookups:
    the object the check returns (a zero quantity is no dust), for spot and perpetuals, known
    and unknown instruments, with and without a last price; non-zero holdings still checked."""
    from decimal import Decimal

    from tradewind.filtering.context import FilterContext
    from tradewind.model import Instrument, InstrumentKind, Position
    from tradewind.trading.portfolio import Portfolio

    insts = [
        Instrument(venue="sim", symbol="BTCUSDT", kind=InstrumentKind.PERP, lot_size="0.001"),
        Instrument(
            venue="sim", symbol="ETHUSDT", kind=InstrumentKind.SPOT, lot_size="0.01",
            min_notional="5", base="ETH", quote="USDT",
        ),
    ]  # fmt: skip
    pf = Portfolio({i.key: i for i in insts}, Decimal(1000))
    ctx = FilterContext(pf, {})
    pf.mark(insts[1].key, 2000.0, 1)
    keys = [i.key for i in insts] + ["sim:UNKNOWN"]

    def before(instrument: str) -> Position:
        pos = pf.position(instrument)
        return Position(instrument=instrument) if ctx._is_dust(pos) else pos

    checked = 0
    for key in keys:
        # No position yet: the flat one made, as the dust check made it.
        assert ctx.position(key) == before(key) == Position(instrument=key)
        for q in _QUANTITIES:
            pf.restore_position(
                Position(instrument=key, quantity=Decimal(q), realized_pnl=Decimal("1.5"))
            )
            try:
                want = before(key)
            except ArithmeticError as exc:  # a NaN holding of a known instrument: both refuse
                with pytest.raises(type(exc)):
                    ctx.position(key)
                continue
            got = ctx.position(key)
            stored = pf.position(key)
            assert (got is stored) == (want is stored)  # the held one, or a flat one made
            assert got is stored or got == want == Position(instrument=key)
            checked += 1
    assert checked > 2 * len(_QUANTITIES)


def _size_before(
    signal: Any,
    instrument: Any,
    equity: Any,
    risk_pct: Any,
    max_notional: Any = None,
    *,
    max_leverage: Any = None,
    instrument_cap: Any = None,
) -> Any:
    """``size_for`` as it was before it compared with a Decimal zero (verbatim)."""
    from decimal import Decimal

    max_leverage = Decimal(1) if max_leverage is None else max_leverage
    dist = abs(signal.entry - signal.stop)
    if dist <= 0 or equity <= 0 or signal.entry <= 0:
        return Decimal(0)
    qty = equity * risk_pct / dist
    caps = [equity * max_leverage]
    if max_notional is not None:
        caps.append(max_notional)
    if instrument_cap is not None:
        caps.append(instrument_cap)
    cap = min(caps)
    if qty * signal.entry > cap:
        qty = cap / signal.entry
    qty = instrument.round_size(qty)
    if qty <= 0 or qty * signal.entry < instrument.min_notional:
        return Decimal(0)
    return qty


def test_sizing_gives_the_quantities_and_refusals_it_gave() -> None:
    """``size_for`` against its code before the cut, on random entries, stops, equities and
    caps (zeros of both signs, negatives, NaN, infinities), under the default context (NaN
    comparisons raise) and one that traps nothing (they give False): the same Decimal, or
    the same exception."""
    import decimal
    from decimal import Decimal

    from tradewind.model import Instrument, InstrumentKind, Side
    from tradewind.testing.portfolios import make_signal
    from tradewind.trading.sizing import size_for

    rng = random.Random(29)
    inst = Instrument(
        venue="sim", symbol="BTCUSDT", kind=InstrumentKind.PERP, lot_size="0.001",
        min_notional="5",
    )  # fmt: skip
    odd = ["0", "-0", "NaN", "Infinity", "-Infinity", "-5", "0E+3"]

    def num(lo: int, hi: int) -> Decimal:
        if rng.random() < 0.1:
            return Decimal(rng.choice(odd))
        return Decimal(rng.randint(lo, hi)) / 10

    outcomes: dict[str, int] = {}
    for traps in (True, False):
        ctx = (
            decimal.Context(traps=[decimal.InvalidOperation, decimal.DivisionByZero])
            if traps
            else decimal.Context(traps=[])
        )
        with decimal.localcontext(ctx):
            for _ in range(3000):
                entry = num(1, 10**6)
                sig = make_signal(inst, Side.BUY, "1", stop="1")
                sig = attrs.evolve(sig, entry=entry, stop=num(1, 10**6))
                args = (sig, inst, num(-10, 10**7), Decimal(rng.choice(["0.01", "0.00001", "1"])))
                kw = {
                    "max_notional": rng.choice([None, num(1, 10**6)]),
                    "max_leverage": rng.choice([Decimal(1), Decimal(3)]),
                    "instrument_cap": rng.choice([None, num(1, 10**5)]),
                }
                try:
                    want = _size_before(*args, **kw)
                except ArithmeticError as exc:
                    with pytest.raises(type(exc)):
                        size_for(*args, **kw)
                    outcomes["raised"] = outcomes.get("raised", 0) + 1
                    continue
                got = size_for(*args, **kw)
                assert type(got) is Decimal and str(got) == str(want)
                key = "zero" if not want else "sized"
                outcomes[key] = outcomes.get(key, 0) + 1
    assert min(outcomes.get(k, 0) for k in ("raised", "zero", "sized")) > 100, outcomes


@pytest.mark.parametrize("tick", ["1", "0.1", "0.01", "0.001", "1E-8", "1E-12"])
def test_a_float_price_on_the_tick_grid_rounds_to_the_repr_s_decimal(tick: str) -> None:
    """round_price of a float: the grid's short way (``Decimal(n) * tick`` for the float
    nearest ``n`` ticks) gives the Decimal of its shortest repr quantized to the tick — the
    same value, exponent and sign — for prices on the grid, their float neighbours, ties,
    negatives, zeros, the grid's limit of 2**50 ticks and past it, in contexts of 17 to 40
    digits and every rounding."""
    from decimal import (
        ROUND_CEILING,
        ROUND_DOWN,
        ROUND_HALF_DOWN,
        ROUND_HALF_EVEN,
        ROUND_HALF_UP,
        Decimal,
        InvalidOperation,
        localcontext,
    )

    from tradewind.model.instruments import Instrument

    inst = Instrument(venue="v", symbol="S", tick_size=tick, lot_size="0.001")
    step = Decimal(tick)
    k = -step.as_tuple().exponent  # type: ignore[operator]
    rng = random.Random(k)
    prices: list[float] = [0.0, -0.0, 5e-324, float(2**50) / 10**k, float(2**50 + 1) / 10**k]
    for _ in range(4000):
        digits = rng.choice([3, 6, 9, 12, 15, 16, 17])
        n = rng.randrange(1, 10**digits) * rng.choice([1, -1])
        x = n / 10**k  # the float nearest n ticks
        prices += [x, math.nextafter(x, math.inf), math.nextafter(x, -math.inf)]
        prices.append((n + 0.5) / 10**k)  # half-way between two ticks (as a float can be)
        prices.append(rng.uniform(-1e6, 1e6))
    roundings = [ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_HALF_DOWN, ROUND_DOWN, ROUND_CEILING]
    for prec in (17, 28, 40):
        with localcontext() as ctx:
            ctx.prec = prec
            for i, x in enumerate(prices):
                rounding = roundings[i % len(roundings)]
                try:
                    got: Any = inst.round_price(x, rounding).as_tuple()
                except InvalidOperation:  # more digits than the precision: the same error
                    got = "InvalidOperation"
                try:
                    want: Any = Decimal(str(x)).quantize(step, rounding=rounding).as_tuple()
                except InvalidOperation:
                    want = "InvalidOperation"
                assert got == want, (tick, prec, x, rounding)
