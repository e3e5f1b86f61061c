"""The scheduler's flat walk reads the block's arrays (tradewind.blocks.BlockRows), not row
objects: the rows a walk passes are never made, and everything it keeps (counters, funnel,
curves, charted series, equity points, journal) is what the walk over row objects and
stepping every close give, bit for bit — on several timeframes, with decision closes that
are not a row's first candle and closes without a decision, and blocks starting mid-candle."""

from __future__ import annotations

import struct
from collections import deque

import numpy as np
import pytest
from tradewind.blocks import RowQueue, TapeBlock, make_rows
from tradewind.market.candles import CandleAggregator

from tests.test_block_arrays import MIN, _bits, _tape
from tests.test_block_identity import _synthetic
from tests.test_event_scheduler import TABLES, _run

TFS = (MIN // 2, MIN, 5 * MIN, 15 * MIN)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_blocks_row_queue_reads_as_the_deque_of_its_rows(seed):
    """:class:`RowQueue` (``TapeBlock.rows``) gives what a deque of the block's rows gives
    under any mix of ``rows[0]``, ``rows[-1]``, ``popleft``, ``len``, iteration, and
    ``drop`` (= that many ``popleft``), making only the rows read (a short chunk ahead)."""
    ticks = _tape(seed, 40_000)
    agg = CandleAggregator(ticks.instrument, TFS)
    block = TapeBlock.open(ticks, len(ticks), agg.update_arrays(ticks), [])
    expected = make_rows(ticks, CandleAggregator(ticks.instrument, TFS).update(ticks))
    n = len(expected)
    assert n > 500
    ref = deque(expected)
    rows = block.rows
    assert isinstance(rows, RowQueue)
    rng = np.random.default_rng(seed)
    dropped_unmade = 0
    while ref:
        op = rng.integers(0, 5)
        if op == 0:
            assert rows[0] == ref[0] and rows[-1] == ref[-1]
            assert [_bits(c) for c in rows[0].candles] == [_bits(c) for c in ref[0].candles]
        elif op == 1:
            assert rows.popleft() == ref.popleft()
        elif op == 2:
            k = int(rng.integers(0, 60))
            head = block.next_row
            dropped_unmade += sum(
                block.arrays._made[r] is None for r in range(head, min(head + k, n))
            )
            rows.drop(k)
            for _ in range(min(k, len(ref))):
                ref.popleft()
        elif op == 3 and rng.random() < 0.05:
            assert list(rows) == list(ref)
        assert len(rows) == len(ref) and bool(rows) == bool(ref)
        assert block.next_row == n - len(ref)
    assert dropped_unmade > 0  # rows were passed without being made
    assert not rows and len(rows) == 0 and list(rows) == []
    with pytest.raises(IndexError):
        rows.popleft()
    with pytest.raises(IndexError):
        rows[0]


def _floats(points) -> list:
    """A curve's points with their floats as bytes (NaN compared by its bits)."""
    return [
        tuple(struct.pack("<d", v) if isinstance(v, float) else (type(v), v) for v in p)
        for p in points
    ]


#: Timeframes, the strategy's, and ticks (~80 a minute): decisions on the 5m closes (most
#: rows have none; enough ticks for a few positions); on 1m closes behind a 30s candle
#: (never a row's first candle).
WALK_CASES = {
    "5m-decisions": ('timeframes = ["1m", "5m", "15m"]', "5m", 80_000),
    "1m-behind-30s": ('timeframes = ["30s", "1m", "5m", "15m"]', "1m", 30_000),
}


@pytest.mark.parametrize("block", [613, 1_000_000], ids=["mid-candle-blocks", "one-block"])
@pytest.mark.parametrize("case", list(WALK_CASES))
def test_the_walk_over_the_arrays_gives_the_walk_over_row_objects_bits(
    tmp_path, monkeypatch, case, block
):
    """The lean walk and the walk over stretches (reading the block's arrays) against the
    walk over row objects (a candle sink keeps the walk on the rows' objects) and stepping
    every close: the same journal, summary, funnel, counters, curves (the floats' bits),
    charted series, portfolio and clock. Blocks of 613 trades start and end mid-candle."""
    timeframes, strategy_tf, ticks = WALK_CASES[case]
    data = _synthetic(tmp_path / "synth.parquet", ticks, 1.0)

    def edit(text: str) -> str:
        assert 'timeframes = ["1m", "5m", "15m"]' in text and "[strategy]\n" in text
        text = text.replace('timeframes = ["1m", "5m", "15m"]', timeframes, 1)
        return text.replace("[strategy]\n", f'[strategy]\ntimeframe = "{strategy_tf}"\n', 1)

    import tests.test_event_scheduler as sched_tests

    base_text = sched_tests.demo_config_text
    monkeypatch.setattr(sched_tests, "demo_config_text", lambda p: edit(base_text(p)))
    runs = {}
    for name, scheduler, sink in (
        ("stepped", False, None),
        ("objects", True, []),
        ("arrays", True, None),
    ):
        runs[name] = _run(
            tmp_path,
            data,
            scheduler=scheduler,
            block=block,
            sink=sink,
            profile=False,
        )
        for journal in tmp_path.glob("sched_*.duckdb*"):
            journal.unlink()
    rows, result, engine = runs["arrays"]
    sched = engine._scheduler
    assert sched is not None and sched.lean_walks > 0 and sched.closes > 0
    if block == 1_000_000:
        assert sched.bulk_stretches > 1 and sched.bulk_closes > 0
        # The stretches' points kept as columns (read below as the same tuples).
        for curve in (result.equity_curve, *result.candles.values(), *result.price_curve.values()):
            assert any(isinstance(part, tuple) for part in curve.chunks())
    objects = runs["objects"][2]._scheduler
    assert objects is not None and objects.lean_walks == 0 and objects.closes > 0
    for name in ("objects", "stepped"):
        base_rows, base, other = runs[name]
        assert base_rows["orders"] and base_rows["fills"], name  # something to compare
        for table in TABLES:
            assert rows[table] == base_rows[table], (name, table)
        assert result.summary == base.summary, name
        assert list(engine.strategy.rejected.items()) == list(other.strategy.rejected.items())
        assert engine.strategy.evaluated == other.strategy.evaluated, name
        assert (engine.candles, engine.decision_points, engine.ticks) == (
            other.candles,
            other.decision_points,
            other.ticks,
        ), name
        assert _floats(result.equity_curve) == _floats(base.equity_curve), name
        for got in (result, base):
            assert all(type(t) is int and type(v) is float for t, v in got.equity_curve)
            for points in got.candles.values():
                assert all(list(map(type, c)) == [int] + [float] * 5 for c in points)
        for key, points in base.price_curve.items():
            assert _floats(result.price_curve[key]) == _floats(points), name
        assert result.price_curve.keys() == base.price_curve.keys(), name
        for key, points in base.candles.items():
            assert _floats(result.candles[key]) == _floats(points), name
        assert result.candles.keys() == base.candles.keys(), name
        for key, series in base.series.items():
            assert {k: _floats(v) for k, v in result.series[key].items()} == {
                k: _floats(v) for k, v in series.items()
            }, name
        assert result.series.keys() == base.series.keys(), name
        p, q = engine.portfolio, other.portfolio
        assert (p.changes, p.ts_ns, p._last) == (q.changes, q.ts_ns, q._last), name
        assert engine.clock.now_ns() == other.clock.now_ns(), name
    # Decisions only on the strategy's timeframe: fewer than the rows (the 5m case), or
    # each behind the row's 30s candle.
    assert engine.decision_points < engine.candles
