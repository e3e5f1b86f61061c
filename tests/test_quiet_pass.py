"""Several replayed instruments: a pass's usual quiet closes taken as one plain function each
(``tradewind.trading.quiet_pass.quick_close``, no coroutine and no chain of calls a close)
give the run where every close goes through ``QuietCloses.close``, bit for bit: every
journal table, the summary, the curves, the equity curve, fills, closed trades, the engine's
and the quiet closes' counters, and the engine's quiet checks made and taken."""

from __future__ import annotations

import pytest
from tradewind.journal.store import TABLES

from tests.test_event_scheduler_multi import _multi_config, _tapes
from tests.test_quiet_close_cuts import _curves
from tests.test_quiet_close_pass import _run_quiet


def _run(cfg, journal, *, quick: bool):
    return _run_quiet(cfg, journal, quick=quick)


@pytest.mark.parametrize(("block", "latency_ms"), [(1_000_000, 25), (900, 90_000), (250_000, 25)])
def test_quick_closes_give_the_run_of_closes_one_by_one(tmp_path, block, latency_ms):
    """Four instruments; at 90 s of venue latency orders are in flight across closes and
    positions are held (closes that take the engine's step between quick ones)."""
    data = tmp_path / "synth_4.parquet"
    symbols = _tapes(data, 4, 12_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=block, latency_ms=latency_ms)
    base_rows, base, old, old_checks = _run(cfg, tmp_path / "old.duckdb", quick=False)
    rows, result, new, checks = _run(cfg, tmp_path / "new.duckdb", quick=True)
    q_old, q_new = old._quiet_closes, new._quiet_closes
    assert q_old.quick_closes == 0 and q_new.quick_closes > q_new.closes // 2
    assert base.summary["funnel"]["signals"] >= 2 and len(base.fills) >= 2
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert _curves(result) == _curves(base)
    assert result.equity_curve == base.equity_curve
    assert result.fills == base.fills
    assert result.closed_trades == base.closed_trades
    assert (new.candles, new.decision_points, new.ticks, new.signals) == (
        old.candles,
        old.decision_points,
        old.ticks,
        old.signals,
    )
    assert checks == old_checks
    names = (
        "closes",
        "array_closes",
        "idle_steps",
        "rejected_by_arrays",
        "rejected_by_gate",
        "known_quiet",
        "deferred_points",
        "lazy_rows",
        "pieces",
    )
    assert [getattr(q_new, n) for n in names] == [getattr(q_old, n) for n in names]
    assert new.strategy.rejected == old.strategy.rejected
    assert new.strategy.evaluated == old.strategy.evaluated
