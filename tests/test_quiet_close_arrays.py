"""Several replayed instruments: the quiet closes taken from the block's arrays
(``QuietCloses._from_arrays``: no row or candle objects) give the run that takes each row
through ``TapeBlock.take`` and its candle objects, bit for bit: every journal table, the
summary, the funnel, the counters, every curve and charted series, fills and closed trades."""

from __future__ import annotations

import anyio
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.trading.engine import Engine

from tests.test_determinism import _rows
from tests.test_event_scheduler_multi import _multi_config, _tapes


def _run(cfg, journal, arrays: bool):
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
    quiet = engine._quiet_closes
    assert quiet is not None
    quiet.from_arrays = arrays
    result = anyio.run(engine.run)
    return _rows(journal), result, engine


def _same(tmp_path, data, symbols, *, block, latency_ms=25, hole_gaps=0):
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=block, latency_ms=latency_ms)
    base_rows, base, old = _run(cfg, tmp_path / f"old_{block}.duckdb", False)
    rows, result, new = _run(cfg, tmp_path / f"new_{block}.duckdb", True)
    q_old, q_new = old._quiet_closes, new._quiet_closes
    assert q_old is not None and q_new is not None
    # The old run took no close from the arrays; the new one took most of its quiet ones so.
    assert q_old.array_closes == 0
    assert q_new.array_closes > q_new.closes // 2 > 0
    assert q_new.closes == q_old.closes
    assert q_new.rejected_by_arrays == q_old.rejected_by_arrays > 0
    assert q_new.rejected_by_gate == q_old.rejected_by_gate
    assert q_new.idle_steps == q_old.idle_steps
    # Something to compare: signals, entries of several instruments.
    assert base.summary["funnel"]["signals"] >= 2
    assert len({f.instrument for f in base.fills}) >= 2
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert new.strategy.rejected == old.strategy.rejected
    assert new.strategy.evaluated == old.strategy.evaluated
    assert (new.candles, new.decision_points, new.ticks, new.signals) == (
        old.candles,
        old.decision_points,
        old.ticks,
        old.signals,
    )
    assert result.equity_curve == base.equity_curve
    assert result.series == base.series
    assert result.candles == base.candles
    assert result.price_curve == base.price_curve
    assert result.fills == base.fills
    assert result.closed_trades == base.closed_trades
    assert len(result.data_gaps) == len(base.data_gaps) == hole_gaps
    assert new.portfolio.cash == old.portfolio.cash
    assert new._equity.reused == old._equity.reused
    assert new._equity.marked == old._equity.marked


@pytest.mark.parametrize("latency_ms", [25, 90_000])
def test_quiet_closes_from_the_arrays_give_the_take_of_row_objects(tmp_path, latency_ms):
    """Four instruments, one 1M-tick block each; with 90 s of venue latency entries are in
    flight across closes (no decision there) and positions rest under the exit monitors."""
    data = tmp_path / "synth_4.parquet"
    symbols = _tapes(data, 4, 12_000, 1.0, sample=False)
    _same(tmp_path, data, symbols, block=1_000_000, latency_ms=latency_ms)


def test_quiet_closes_from_the_arrays_over_short_blocks_and_a_data_gap(tmp_path):
    """Three instruments sharing ``block_ticks`` 3,000 (blocks of 1,000 trades ending inside
    decision intervals, a dozen per instrument) and one tape with an hour-long hole."""
    data = tmp_path / "synth_hole.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False, hole=True)
    _same(tmp_path, data, symbols, block=3_000, hole_gaps=1)


def test_quiet_closes_from_the_arrays_with_the_sample_beside_synthetic_tapes(tmp_path):
    """The shipped sample (real trades) beside two synthetic tapes, 24 instruments' worth of
    shares not needed: blocks of one decision interval's worth are ordinary blocks."""
    data = tmp_path / "sample_multi.parquet"
    symbols = _tapes(data, 3, 6_000, 1.0, sample=True)
    _same(tmp_path, data, symbols, block=1_000_000)
