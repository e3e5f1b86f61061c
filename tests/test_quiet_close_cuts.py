"""Several replayed instruments: the per-close and per-batch cuts of the quiet closes give the
run they replaced, bit for bit.

- ``QuietCloses._from_arrays`` puts its seven curve points a close straight onto each
  curve's tail (no ``Curve.append`` call): the run with every row through ``TapeBlock.take``
  (the engine's step, ``Curve.append``) has the same points *and lengths*, every journal table
  the same.
- ``OrderManager.in_doubt`` (the quiet checks' ``bool(unresolved())`` without the list) says
  what ``unresolved()`` says, at every check of a run with orders in flight.
- The batch's last time and price read with ``ndarray.item`` (``_advance``, the simulated
  venue's ``on_trades``, ``on_batch``, ``TickBatch.last_ts``/``last_price``) are the Python
  ``int`` and ``float`` of ``int(a[-1])`` and ``float(a[-1])``: the same type and bits at
  every mark of a run.
"""

from __future__ import annotations

import math
import struct

import anyio
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.trading.engine import Engine
from tradewind.trading.orders import OrderManager
from tradewind.trading.portfolio import Portfolio
from tradewind.venues.sim import SimulatedVenue

from tests.test_determinism import _rows
from tests.test_event_scheduler_multi import _multi_config, _tapes


def _run(cfg, journal, arrays: bool):
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
    quiet = engine._quiet_closes
    assert quiet is not None
    quiet.from_arrays = arrays
    result = anyio.run(engine.run)
    return _rows(journal), result, engine


def _curves(result):
    """Every per-instrument curve of a result: (name, curve)."""
    out = []
    for key, curve in result.price_curve.items():
        out.append((f"price:{key}", curve))
    for key, curve in result.candles.items():
        out.append((f"candles:{key}", curve))
    for key, series in result.series.items():
        for name, curve in series.items():
            out.append((f"series:{key}:{name}", curve))
    return out


@pytest.mark.parametrize("block", [1_000_000, 3_000])
def test_curve_points_put_on_the_tail_are_those_and_lengths_of_curve_append(tmp_path, block):
    data = tmp_path / "synth_4.parquet"
    symbols = _tapes(data, 4, 12_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=block)
    base_rows, base, old = _run(cfg, tmp_path / "old.duckdb", False)
    rows, result, new = _run(cfg, tmp_path / "new.duckdb", True)
    assert new._quiet_closes.array_closes > 0 and old._quiet_closes.array_closes == 0
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    got, want = _curves(result), _curves(base)
    assert [name for name, _ in got] == [name for name, _ in want]
    assert len(got) >= 4 * 3  # prices, candles and charted series of every instrument
    for (name, curve), (_, ref) in zip(got, want, strict=True):
        # len() is the count kept beside the tail: it must be the points' number.
        assert len(curve) == len(ref) == len(list(curve)) > 0, name
        assert list(curve) == list(ref), name
        assert curve[-1] == ref[-1] and curve[0] == ref[0], name
    assert result.equity_curve == base.equity_curve
    assert len(result.equity_curve) == len(base.equity_curve)
    assert result.summary == base.summary


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


@pytest.mark.parametrize("latency_ms", [25, 90_000])
def test_in_doubt_and_item_reads_are_the_old_values_at_every_call(
    tmp_path, monkeypatch, latency_ms
):
    """Four instruments with entries (and, at 90 s latency, orders in flight across closes):
    at each quiet check ``in_doubt()`` is ``bool(unresolved())``; at each mark the price is
    the ``float`` of the batch's last price and the time the ``int`` of its last time; the
    simulated venue's last price and clock are those; ``TickBatch``'s properties are
    ``int``/``float`` of the element."""
    checks = {"in_doubt": 0, "mark": 0, "on_trades": 0, "batch": 0}
    in_doubt = OrderManager.in_doubt

    def checked_in_doubt(self):
        got = in_doubt(self)
        assert got is bool(self.unresolved())
        checks["in_doubt"] += 1
        return got

    mark = Portfolio.mark

    def checked_mark(self, instrument, price, ts_ns):
        assert type(price) is float and type(ts_ns) is int
        checks["mark"] += 1
        return mark(self, instrument, price, ts_ns)

    on_trades = SimulatedVenue.on_trades

    def checked_on_trades(self, batch):
        on_trades(self, batch)
        if len(batch):
            last = self._last[batch.instrument]
            want = float(batch.price[-1])
            assert type(last) is float and _bits(last) == _bits(want)
            assert type(self._now) is int and self._now >= int(batch.ts_ns[-1])
            assert self._clock[batch.instrument] >= int(batch.ts_ns[-1])
            assert batch.last_ts == int(batch.ts_ns[-1]) and type(batch.last_ts) is int
            assert type(batch.first_ts) is int and batch.first_ts == int(batch.ts_ns[0])
            assert type(batch.last_price) is float
            assert _bits(batch.last_price) == _bits(want) and not math.isnan(want)
            checks["on_trades"] += 1

    monkeypatch.setattr(OrderManager, "in_doubt", checked_in_doubt)
    monkeypatch.setattr(Portfolio, "mark", checked_mark)
    monkeypatch.setattr(SimulatedVenue, "on_trades", checked_on_trades)
    data = tmp_path / "synth_4.parquet"
    symbols = _tapes(data, 4, 12_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=3_000, latency_ms=latency_ms)
    _, result, engine = _run(cfg, tmp_path / "run.duckdb", True)
    assert checks["in_doubt"] > 100 and checks["mark"] > 100 and checks["on_trades"] > 100
    assert result.summary["funnel"]["signals"] >= 2
    for st in engine.state.values():
        assert type(st.last_ts) is int
