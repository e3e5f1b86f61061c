"""Several replayed instruments: in one pass of ``Engine._reach`` over the instruments, a quiet
close after one that did nothing but count, record and ask the strategy takes the engine's
quiet check from it (``QuietCloses._known_quiet``: nothing it reads changed in between), and
the run is the one where every close checks, bit for bit; after an entry, a publish or a
close that took the engine's step, the next close checks again."""

from __future__ import annotations

import anyio
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.trading.engine import Engine

from tests.test_determinism import _rows
from tests.test_event_scheduler_multi import _multi_config, _tapes
from tests.test_quiet_close_cuts import _curves


def _run(cfg, journal, *, reuse: bool):
    return _run_quiet(cfg, journal, reuse_quiet=reuse)


def _run_quiet(cfg, journal, **settings):
    """The run with the quiet closes' ``settings`` (their attributes), its journal rows,
    result, engine and how many times the quiet closes asked for the engine's check."""
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
    quiet = engine._quiet_closes
    assert quiet is not None
    for name, value in settings.items():
        assert hasattr(quiet, name), name
        setattr(quiet, name, value)
    checks = [0]
    engine_quiet = quiet._engine_quiet

    def counted(engine_quiet=engine_quiet):
        checks[0] += 1
        return engine_quiet()

    quiet._engine_quiet = counted  # type: ignore[method-assign]
    result = anyio.run(engine.run)
    return _rows(journal), result, engine, checks[0]


@pytest.mark.parametrize(("block", "latency_ms"), [(1_000_000, 25), (900, 90_000)])
def test_a_pass_checks_the_engine_once_until_a_close_does_something(tmp_path, block, latency_ms):
    """Four instruments; at 90 s of venue latency orders are in flight across closes (a
    close after an entry checks again and takes the engine's step while one is pending)."""
    data = tmp_path / "synth_4.parquet"
    symbols = _tapes(data, 4, 12_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=block, latency_ms=latency_ms)
    base_rows, base, old, old_checks = _run(cfg, tmp_path / "old.duckdb", reuse=False)
    rows, result, new, checks = _run(cfg, tmp_path / "new.duckdb", reuse=True)
    q_old, q_new = old._quiet_closes, new._quiet_closes
    assert q_old.known_quiet == 0 and q_new.known_quiet > q_new.closes // 2
    # Every close that took the check from the last one would have checked.
    assert checks + q_new.known_quiet == old_checks
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
    assert (q_new.closes, q_new.idle_steps, q_new.rejected_by_gate) == (
        q_old.closes,
        q_old.idle_steps,
        q_old.rejected_by_gate,
    )


def _paused_at_first_entry(cfg, journal, *, reuse: bool):
    """The run with the control paused by the first entry (in the engine's step, between two
    closes of one pass): every later close must see it and take the engine's step."""
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
    quiet = engine._quiet_closes
    assert quiet is not None
    quiet.reuse_quiet = reuse
    enter = engine._enter

    async def pausing(*args, enter=enter, **kwargs):
        await enter(*args, **kwargs)
        engine.control.pause()

    engine._enter = pausing  # type: ignore[method-assign]
    result = anyio.run(engine.run)
    return _rows(journal), result, engine


def test_a_close_after_an_entry_checks_the_engine_again(tmp_path):
    data = tmp_path / "synth_4.parquet"
    symbols = _tapes(data, 4, 12_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=1_000_000)
    base_rows, base, old = _paused_at_first_entry(cfg, tmp_path / "old.duckdb", reuse=False)
    rows, result, new = _paused_at_first_entry(cfg, tmp_path / "new.duckdb", reuse=True)
    assert new.control.paused and base.summary["funnel"]["signals"] >= 1
    q_old, q_new = old._quiet_closes, new._quiet_closes
    # The closes before the entry went the short way, those after it the engine's step.
    assert 0 < q_new.closes == q_old.closes < new.decision_points // 2
    assert 0 < q_new.known_quiet < q_new.closes
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert result.equity_curve == base.equity_curve
