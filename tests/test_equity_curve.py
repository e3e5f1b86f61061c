"""The equity curve from the fill ledger's cash while flat is the same, bit for bit, as the
Decimal valuation of the portfolio at every decision (the previous computation)."""

from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from tradewind.config import load_config
from tradewind.market import synth
from tradewind.market.importers import load, ticks_parquet
from tradewind.model import Fill, Instrument, InstrumentKind, Side
from tradewind.model.ticks import TickBatch
from tradewind.trading.accounts import ConversionError
from tradewind.trading.curves import Curve
from tradewind.trading.engine import Engine
from tradewind.trading.equity import EquityCurve
from tradewind.trading.portfolio import Portfolio

from tests.test_engine import SAMPLE, demo_config_text

D = Decimal


def _every_decision(self: EquityCurve, ts_ns: int) -> None:
    """The previous computation: the portfolio's Decimal equity at every decision."""
    try:
        self.points.append((ts_ns, float(self.portfolio.equity())))
    except ConversionError:
        pass


def _synthetic(tmp_path: Path, n: int, speedup: float) -> Path:
    sample = next(iter(load(SAMPLE).batches.values()))
    per_hour = len(sample) / ((sample.last_ts - sample.first_ts) / synth.NS_PER_HOUR)
    out = synth.generate(synth.calibrate(sample), hours=1.2 * n / per_hour + 0.5, seed=17)
    out = out.slice(0, n)
    if speedup != 1.0:
        t0 = out.first_ts
        ts = t0 + ((out.ts_ns - t0) / speedup).astype("int64")
        out = TickBatch.from_arrays(out.instrument, ts, out.price, out.size, out.side, out.trade_id)
    path = tmp_path / f"synth_{n}_{speedup:g}.parquet"
    ticks_parquet.write(path, {"BTCUSDT": out}, exchange="synth", market="perp")
    return path


def _run(tmp_path: Path, name: str, data: Path | None, reference: bool):
    d = tmp_path / name
    d.mkdir()
    text = demo_config_text(d)
    if data is not None:
        text = text.replace(f'path = "{SAMPLE.as_posix()}"', f'path = "{data.as_posix()}"')
    cfg = d / "cfg.toml"
    cfg.write_text(text, encoding="utf-8")
    engine = Engine(load_config(cfg), run_id=name)
    with pytest.MonkeyPatch.context() as m:
        if reference:
            m.setattr(EquityCurve, "record", _every_decision)
        result = anyio.run(engine.run)
    return result, engine._equity


@pytest.mark.parametrize(
    ("ticks", "speedup"),
    [(None, 1.0), (60_000, 1.0), (60_000, 20.0)],
    ids=["shipped-sample", "synthetic-80-per-min", "synthetic-1600-per-min"],
)
def test_ledger_curve_equals_the_per_decision_valuation(tmp_path, ticks, speedup):
    data = None if ticks is None else _synthetic(tmp_path, ticks, speedup)
    got, curve = _run(tmp_path, "ledger", data, reference=False)
    want, _ = _run(tmp_path, "reference", data, reference=True)
    assert got.equity_curve == want.equity_curve
    assert len(got.equity_curve) == got.summary["decisions"] > 0
    # both paths were taken: flat points from the ledger's cash, open ones at the marks
    # (the 1,600-a-minute run trades rarely; every point may be flat there)
    assert curve.marked < len(got.equity_curve)
    if got.fills:
        assert 0 < curve.marked
        assert len({eq for _, eq in got.equity_curve}) > 1


KEY = Instrument(venue="sim", symbol="BTCUSDT").key


def _fill(side: Side, qty: str, price: str, ts: int, fee: str = "0.1") -> Fill:
    return Fill(
        client_order_id=f"c{ts}",
        instrument=KEY,
        side=side,
        quantity=D(qty),
        price=D(price),
        fee=D(fee),
        ts_ns=ts,
        trade_id=str(ts),
    )


def test_cash_equity_is_the_ledger_cash_only_when_nothing_is_open():
    inst = Instrument(
        venue="sim",
        symbol="BTCUSDT",
        kind=InstrumentKind.PERP,
        tick_size=D("0.01"),
        lot_size=D("0.001"),
        min_notional=D("5"),
    )
    p = Portfolio({inst.key: inst}, D("1000"))
    assert p.cash_equity() == D("1000") == p.equity()
    p.apply_fill(_fill(Side.BUY, "0.1", "100", 1))
    p.mark(inst.key, 110.0, 2)
    assert p.cash_equity() is None  # open: valued at the mark
    assert p.equity() == D("1000") - D("0.1") + D("1.0")
    p.apply_fill(_fill(Side.SELL, "0.1", "110", 3))
    assert p.cash_equity() == D("1000") - D("0.2") + D("1.0") == p.equity()
    p.apply_funding(inst.key, D("0.5"))
    assert p.cash_equity() == D("1000.3") == p.equity()
    curve = EquityCurve(p, Curve())
    curve.record(10)
    p.apply_fill(_fill(Side.SELL, "0.2", "110", 11))
    curve.record(12)
    p.apply_fill(_fill(Side.BUY, "0.2", "105", 13))
    curve.record(14)
    # the short's mark is still 110 (unrealised 0); closing it at 105 realises 1.0
    assert curve.points == [(10, 1000.3), (12, 1000.2), (14, 1001.1)]
    assert curve.marked == 1


def test_record_many_gives_the_points_of_record_at_each_time():
    """``record_many`` over a stretch with nothing changing in between: the points ``record``
    gives close by close, flat (the ledger's cash, also after the ledger moved) and with a
    position open (valued at the mark)."""
    inst = Instrument(
        venue="sim",
        symbol="BTCUSDT",
        kind=InstrumentKind.PERP,
        tick_size=D("0.01"),
        lot_size=D("0.001"),
        min_notional=D("5"),
    )

    def two() -> tuple[EquityCurve, EquityCurve]:
        return (
            EquityCurve(Portfolio({inst.key: inst}, D("1000")), Curve()),
            EquityCurve(Portfolio({inst.key: inst}, D("1000")), Curve()),
        )

    bulk, single = two()
    for curve in (bulk, single):
        p = curve.portfolio
        p.mark(inst.key, 100.0, 1)
        if curve is bulk:
            curve.record_many([10, 20, 30])
        else:
            for t in (10, 20, 30):
                curve.record(t)
        p.apply_fill(_fill(Side.BUY, "0.1", "100", 31, fee="0.3"))
        p.apply_fill(_fill(Side.SELL, "0.1", "101", 32, fee="0.3"))
        if curve is bulk:
            curve.record_many([40, 50])
            curve.record_many([])
        else:
            for t in (40, 50):
                curve.record(t)
    # Flat, the bulk points are kept as columns (read below as tuples, the same values).
    assert [type(part) for part in bulk.points.chunks()] == [tuple, tuple]
    assert (
        bulk.points
        == single.points
        == [
            (10, 1000.0),
            (20, 1000.0),
            (30, 1000.0),
            (40, float(D("1000") - D("0.6") + D("0.1"))),
            (50, float(D("1000") - D("0.6") + D("0.1"))),
        ]
    )
    assert bulk.marked == single.marked == 0
    assert [tuple(map(type, p)) for p in bulk.points] == [(int, float)] * 5
    bulk, single = two()
    for curve in (bulk, single):
        p = curve.portfolio
        p.apply_fill(_fill(Side.BUY, "0.1", "100", 1))
        p.mark(inst.key, 103.0, 2)
        if curve is bulk:
            curve.record_many([10, 20])
        else:
            for t in (10, 20):
                curve.record(t)
    assert bulk.points == single.points == [(10, 1000.2), (20, 1000.2)]
    assert (bulk.marked, bulk.reused) == (single.marked, single.reused) == (2, 1)
