"""Several replayed instruments: the feed batches that only the clock and the mark read are
taken by ``QuietBatches.take`` (tradewind.trading.quiet_batches) instead of ``Engine.on_batch``,
and the run is ``on_batch``'s bit for bit: every journal table, the summary, every curve, the
equity curve, fills, closed trades and counters, and after every batch the state each batch
moves on (the engine's, the instrument's validator, look-ahead track and block, the clock,
the portfolio's marks, the simulated venue's)."""

from __future__ import annotations

import anyio
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.trading.engine import Engine

from tests.test_determinism import _rows
from tests.test_event_scheduler_multi import _multi_config, _tapes
from tests.test_quiet_close_cuts import _curves


def _state(engine: Engine, key: str) -> tuple:
    """What a batch of ``key`` moves on, read after it. The validator's count and last time
    as it has them once told of the trades taken quietly since it was last read
    (``QuietBatches.sync``; what the stretch's ``accept_checked`` calls would have left)."""
    st = engine.state[key]
    v = st.validator
    look = engine._lookahead
    assert look is not None
    track = look._tracks.get(key)
    accepted, last_ts = v.accepted, v.last_ts_ns
    quiet = engine._quiet_batches
    if quiet is not None and quiet.unsynced(key):
        assert track is not None
        accepted += quiet.unsynced(key)
        last_ts = int(track.ts[track.fed - 1])
    block = st.block
    venue = st.exec_venue
    p = engine.portfolio
    return (
        key,
        engine.ticks,
        engine.clock.now_ns(),
        p.changes,
        p.ts_ns,
        dict(p._last),
        p.cash,
        st.last_ts,
        st.cash_start,
        st.next_boundary,
        accepted,
        last_ts,
        dict(v.rejected),
        None
        if track is None
        else (track.base, track.fed, track.first, track.end, track.block is block),
        None if block is None else (block.start, block.end, block.rows.head),
        look.prevalidated,
        look.matched,
        look.opened,
        dict(venue._last),
        dict(venue._clock),
        venue._now,
        engine._quiet_ticks.pieces,
        engine.candles,
        engine.decision_points,
    )


def _run(cfg, journal, *, take: bool):
    """The run with quiet batches taken (``take``) or every batch through ``on_batch``; the
    state after each batch, and how many batches went each way."""
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
    quiet = engine._quiet_batches
    assert quiet is not None
    if not take:
        engine._quiet_batches = None
    states: list[tuple] = []
    direct = engine._direct_feed
    stepped = [0]
    on_batch = engine.on_batch

    async def counted(batch, on_batch=on_batch):
        stepped[0] += 1
        await on_batch(batch)

    engine.on_batch = counted  # type: ignore[method-assign]

    def watched():
        batches = direct()
        assert batches is not None  # the engine reads the replay itself
        for batch in batches:
            yield batch
            states.append(_state(engine, batch.instrument))

    engine._direct_feed = watched  # type: ignore[method-assign]
    result = anyio.run(engine.run)
    # The last batch's state, after the run (the generator is not resumed after it).
    return _rows(journal), result, engine, states, stepped[0], quiet.taken


def _same(tmp_path, cfg):
    base_rows, base, old, old_states, old_stepped, old_taken = _run(
        cfg, tmp_path / "old.duckdb", take=False
    )
    rows, result, new, states, stepped, taken = _run(cfg, tmp_path / "new.duckdb", take=True)
    # Both ways occurred: many batches taken quietly, some through on_batch (with a few
    # instruments each interval's first batch, which brings all of them to the grid time,
    # is a large share).
    assert old_taken == 0 and old_stepped == old.direct_batches
    assert new.direct_batches == old.direct_batches
    assert taken + stepped == new.direct_batches
    assert taken > new.direct_batches // 4 and stepped > 0
    assert base.summary["funnel"]["signals"] >= 2
    assert len(states) == len(old_states) >= new.direct_batches - 1
    for i, (a, b) in enumerate(zip(states, old_states, strict=True)):
        assert a == b, i
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert _curves(result) == _curves(base)
    assert result.equity_curve == base.equity_curve
    assert result.fills == base.fills
    assert result.closed_trades == base.closed_trades
    assert result.data_gaps == base.data_gaps
    assert new.portfolio.cash == old.portfolio.cash
    assert (new.candles, new.decision_points, new.ticks, new.signals) == (
        old.candles,
        old.decision_points,
        old.ticks,
        old.signals,
    )
    q_new, q_old = new._quiet_closes, old._quiet_closes
    assert (q_new.pieces, q_new.closes, q_new.idle_steps) == (
        q_old.pieces,
        q_old.closes,
        q_old.idle_steps,
    )
    # Every validator told of every trade by the run's end, and left as on_batch leaves it.
    for key, st in new.state.items():
        assert new._quiet_batches.unsynced(key) == 0
        v, ref = st.validator, old.state[key].validator
        assert (v.accepted, v.last_ts_ns, v.rejected) == (
            ref.accepted,
            ref.last_ts_ns,
            ref.rejected,
        )
        assert v.seen_ids._sorted().tolist() == ref.seen_ids._sorted().tolist()
        assert (v.seen_ids.max_id, len(v.seen_ids)) == (ref.seen_ids.max_id, len(ref.seen_ids))
    return result, new


@pytest.mark.parametrize(("block", "latency_ms"), [(1_000_000, 25), (3_000, 25), (900, 90_000)])
def test_quiet_batches_taken_give_on_batchs_run(tmp_path, block, latency_ms):
    """Four instruments in blocks of 250,000 (whole tapes), 750 and 225 trades (blocks end
    inside decision intervals, each batch past its block goes through ``on_batch``); at 90 s
    of venue latency orders rest across batches and positions are held under the exit
    monitors (those batches take the engine's step)."""
    data = tmp_path / "synth_4.parquet"
    symbols = _tapes(data, 4, 12_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=block, latency_ms=latency_ms)
    _same(tmp_path, cfg)


@pytest.mark.parametrize("policy", ["hold", "flatten"])
def test_quiet_batches_over_a_data_gap(tmp_path, policy):
    """Three instruments, one tape with an hour-long hole: the batch after the hole goes
    through ``on_batch`` (the gap's policy), the run is the same."""
    data = tmp_path / "synth_hole.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False, hole=True)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=3_000)
    text = cfg.read_text()
    cfg.write_text(text.replace("[run]\n", f'[run]\ngap_policy = "{policy}"\n', 1))
    result, _ = _same(tmp_path, cfg)
    assert len(result.data_gaps) == 1


def test_no_quiet_batches_without_the_look_ahead(tmp_path):
    """Without the event scheduler (no blocks reading ahead, no quiet closes) the engine has
    no ``QuietBatches``: every batch goes through ``on_batch``."""
    data = tmp_path / "synth_3.parquet"
    symbols = _tapes(data, 3, 2_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=False, block=1_000_000)
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(tmp_path / "j.duckdb"))
    assert engine._lookahead is None and engine._quiet_batches is None
