"""Side costs of the backtest path with many instruments: the portfolio's equity walks only
the open positions (same Decimal, same order of summation as walking every position), and a
run's result has a short repr (asyncio formats it when ``anyio.run`` returns)."""

import random
from decimal import Decimal

import anyio
from tradewind.config import load_config
from tradewind.model import Fill, Instrument, InstrumentKind, Position, Side
from tradewind.trading.accounts import ConversionError
from tradewind.trading.engine import Engine, RunResult
from tradewind.trading.portfolio import Portfolio

from tests.test_engine import demo_config_text

D = Decimal


def _every_position(p: Portfolio) -> Decimal:
    """The previous computation: every position in ``_positions`` order, flat ones skipped."""
    eq = p.cash
    for key, pos in p._positions.items():
        if pos.is_flat or key not in p._last:
            continue
        eq += pos.unrealized_pnl(Decimal(repr(p._last[key])))
    return eq


def test_equity_over_open_positions_is_the_sum_over_every_position():
    # Prices with many significant digits so that a different order of summation could
    # round differently in the 28-digit Decimal context.
    D28 = D("1e-12")
    rng = random.Random(17)
    insts = {
        f"sim:S{i:03d}": Instrument(
            venue="sim",
            symbol=f"S{i:03d}",
            kind=InstrumentKind.PERP,
            tick_size=D28,
            lot_size=D("0.000001"),
            min_notional=D("0"),
        )
        for i in range(100)
    }
    keys = list(insts)
    p = Portfolio(insts, D("100000"))
    opened = closed = 0
    for t in range(1, 3000):
        key = rng.choice(keys)
        price = rng.uniform(0.01, 90_000.0)
        p.mark(key, price, t)
        pos = p.position(key)
        if pos.is_flat or rng.random() < 0.5:
            side = rng.choice((Side.BUY, Side.SELL))
            qty = D(rng.randint(1, 10**6)) / D(10**6)
        else:  # close it
            side = Side.SELL if pos.quantity > 0 else Side.BUY
            qty = abs(pos.quantity)
            closed += 1
        fill = Fill(
            client_order_id=f"c{t}",
            instrument=key,
            side=side,
            quantity=qty,
            price=D(repr(price)),
            fee=D("0.000123456789"),
            ts_ns=t,
            trade_id=str(t),
        )
        after = p.apply_fill(fill)
        opened += not after.is_flat
        assert p.equity() == _every_position(p), t
        assert sorted(p._open_keys) == sorted(k for k, v in p._positions.items() if not v.is_flat)
    assert opened > 100 and closed > 100  # both paths of _track_open were taken


def test_restored_positions_are_valued_and_flat_ones_skipped():
    inst = Instrument(venue="sim", symbol="A", kind=InstrumentKind.PERP)
    other = Instrument(venue="sim", symbol="B", kind=InstrumentKind.PERP)
    p = Portfolio({inst.key: inst, other.key: other}, D("1000"))
    p.restore_position(
        Position(
            instrument=other.key, quantity=D("2"), avg_price=D("10"), lots=((D("2"), D("10")),)
        )
    )
    p.restore_position(Position(instrument=inst.key))
    p.mark(other.key, 12.0, 1)
    p.mark(inst.key, 5.0, 2)
    assert p._open_keys == (other.key,)
    assert p.equity() == D("1004") == _every_position(p)
    p.restore_position(Position(instrument=other.key))
    assert p._open_keys == ()
    assert p.equity() == D("1000")


def test_equity_still_raises_for_an_account_it_cannot_value():
    # The accounts branch is unchanged: equity without the instrument that converts a
    # balance still says so.
    inst = Instrument(
        venue="ex", symbol="ETHBTC", kind=InstrumentKind.SPOT, base="ETH", quote="BTC"
    )
    p = Portfolio({inst.key: inst}, D("0"))
    p.seed_account("ex", {"BTC": D("1")})
    try:
        p.equity()
    except ConversionError as e:
        assert "BTC" in str(e)
    else:
        raise AssertionError("a BTC balance with no BTC price was valued")


def test_run_result_repr_is_short_whatever_the_run(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(demo_config_text(tmp_path), encoding="utf-8")
    result = anyio.run(Engine(load_config(cfg), run_id="short-repr").run)
    assert len(result.equity_curve) > 100
    text = repr(result)
    assert text.startswith("RunResult(run_id='short-repr', ")
    assert f"fills={len(result.fills)}" in text
    assert f"equity_points={len(result.equity_curve)}" in text
    assert len(text) < 200
    # Grown to a 100-instrument run's size, it stays the same length.
    big = RunResult(
        run_id="big",
        summary=dict(result.summary),
        equity_curve=[(i, 1.0) for i in range(1_000_000)],
        closed_trades=(),
        fills=list(result.fills) * 100,
        candles={f"S{i}": [(0, 1.0, 1.0, 1.0, 1.0, 1.0)] * 10_000 for i in range(100)},
    )
    assert len(repr(big)) < 200
