"""Several replayed instruments in a backtest: the engine reads the replay's interval batches
itself (``ReplayVenue.interval_batches``, ``Engine._consume_direct``) instead of through a
feed task and a one-slot stream per batch. The batches are the stream's, in its order, and
the run is the run through the stream bit for bit (journal, summary, funnel, curves, series,
fills, closed trades), with the event scheduler on and off, with a data gap and with venue
latency that keeps entries in flight across closes. The equity points valued at the marks
reuse the last valuation while its inputs are unchanged; the curve is the same."""

from __future__ import annotations

import gc
from pathlib import Path

import anyio
import numpy as np
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.market.importers import load
from tradewind.model import Instrument, TickBatch
from tradewind.trading.collector import ENGINE_YOUNG
from tradewind.trading.engine import Engine
from tradewind.venues.replay import ReplayConfig, ReplayVenue

from tests.test_determinism import _rows
from tests.test_engine import SAMPLE, demo_config_text
from tests.test_event_scheduler_multi import _instrument, _multi_config, _tapes

STEP = 60_000_000_000


def _run(
    tmp_path: Path,
    data: Path,
    symbols: list[str],
    *,
    direct: bool,
    scheduler: bool,
    block: int,
    latency_ms: int = 25,
) -> tuple[dict, object, Engine]:
    cfg = _multi_config(
        tmp_path, data, symbols, scheduler=scheduler, block=block, latency_ms=latency_ms
    )
    journal = tmp_path / f"direct_{direct}_{scheduler}_{block}.duckdb"
    engine = Engine(load_config(cfg), run_id="direct", journal_path=str(journal))
    if not direct:
        engine._direct_feed = lambda: None  # type: ignore[method-assign]  # the stream's path
    result = anyio.run(engine.run)
    return _rows(journal), result, engine


def _interval_pieces(data: Path) -> int:
    """Feed batches of the interval merge of ``data``: one per instrument and grid interval
    with trades."""
    return sum(len(np.unique(b.ts_ns // STEP)) for b in load(data).batches.values())


def _assert_same(
    tmp_path: Path,
    data: Path,
    symbols: list[str],
    *,
    blocks: tuple[int, ...],
    gaps: int = 0,
    latency_ms: int = 25,
) -> None:
    thresholds = gc.get_threshold()
    for scheduler in (True, False):
        for block in blocks:
            base_rows, base, old = _run(
                tmp_path,
                data,
                symbols,
                direct=False,
                scheduler=scheduler,
                block=block,
                latency_ms=latency_ms,
            )
            rows, result, engine = _run(
                tmp_path,
                data,
                symbols,
                direct=True,
                scheduler=scheduler,
                block=block,
                latency_ms=latency_ms,
            )
            where = (scheduler, block)
            # The new path ran (every batch read directly), the old one did not.
            assert old.direct_batches == 0
            assert engine.direct_batches == _interval_pieces(data), engine.direct_batches
            # The direct read took the collector's schedule over (its youngest generation
            # collected between batches at ENGINE_YOUNG net allocations) and gave CPython's
            # back at the end; the stream's backtest kept CPython's.
            assert old.direct_collector is None
            collector = engine.direct_collector
            assert collector is not None and not collector.running
            assert collector.thresholds == (ENGINE_YOUNG, thresholds[1], thresholds[2])
            assert gc.get_threshold() == thresholds
            # There is something to compare: signals, fills of several instruments, points
            # valued at the marks, most of them reused at the closes between two marks.
            assert base.summary["funnel"]["signals"] >= 2, where
            assert len({f.instrument for f in base.fills}) >= 2, where
            assert engine._equity.marked > 0
            assert engine._equity.reused > 0
            assert old._equity.marked == engine._equity.marked
            for table in TABLES:
                assert rows[table] == base_rows[table], (where, table)
            assert result.summary == base.summary, where
            assert engine.strategy.rejected == old.strategy.rejected
            assert engine.strategy.evaluated == old.strategy.evaluated
            assert (engine.candles, engine.decision_points, engine.ticks) == (
                old.candles,
                old.decision_points,
                old.ticks,
            )
            assert result.equity_curve == base.equity_curve, where
            assert [np.float64(v).tobytes() for _, v in result.equity_curve] == [
                np.float64(v).tobytes() for _, v in base.equity_curve
            ]
            assert result.series == base.series, where
            assert result.candles == base.candles, where
            assert result.price_curve == base.price_curve, where
            assert list(result.price_curve) == list(base.price_curve), where
            assert result.fills == base.fills, where
            assert result.closed_trades == base.closed_trades, where
            assert len(result.data_gaps) == len(base.data_gaps) == gaps, where


def test_the_sample_beside_synthetic_tapes_gives_the_streamed_run(tmp_path):
    data = tmp_path / "sample_multi.parquet"
    symbols = _tapes(data, 3, 6_000, 1.0, sample=True)
    _assert_same(tmp_path, data, symbols, blocks=(1_000_000, 0))


def test_a_data_gap_and_blocks_shared_by_the_instruments_give_the_streamed_run(tmp_path):
    data = tmp_path / "synth_hole.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False, hole=True)
    _assert_same(tmp_path, data, symbols, blocks=(3_000,), gaps=1)


def test_orders_in_flight_across_closes_give_the_streamed_run(tmp_path):
    data = tmp_path / "synth_latency.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False)
    _assert_same(tmp_path, data, symbols, blocks=(1_000_000,), latency_ms=90_000)


def test_collections_between_direct_batches_give_the_streamed_run(tmp_path, monkeypatch):
    """The direct read's collector at CPython's own youngest threshold (700 net allocations)
    collects between most batches; the journal and the figures are the streamed run's, which
    kept CPython's schedule inside its steps."""
    import tradewind.trading.engine as engine_module

    monkeypatch.setattr(engine_module, "ENGINE_YOUNG", 700)
    data = tmp_path / "synth_gc.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False)
    thresholds = gc.get_threshold()
    base_rows, base, old = _run(
        tmp_path, data, symbols, direct=False, scheduler=True, block=1_000_000
    )
    rows, result, engine = _run(
        tmp_path, data, symbols, direct=True, scheduler=True, block=1_000_000
    )
    collector = engine.direct_collector
    assert collector is not None and not collector.running
    assert collector.thresholds == (max(700, thresholds[0]), thresholds[1], thresholds[2])
    assert collector.collections[0] > 0, collector.collections
    assert gc.get_threshold() == thresholds
    assert engine.direct_batches == _interval_pieces(data)
    assert old.direct_batches == 0 and old.direct_collector is None
    assert len({f.instrument for f in base.fills}) >= 2
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert result.equity_curve == base.equity_curve
    assert result.price_curve == base.price_curve


def _series(seed: int, n: int, t0: int, symbol: str) -> TickBatch:
    rng = np.random.default_rng(seed)
    ts = t0 + np.sort(rng.integers(0, 40 * STEP, n))
    # Some trades exactly on grid times, and runs of one timestamp.
    ts[:: max(1, n // 7)] = (ts[:: max(1, n // 7)] // STEP) * STEP
    ts = np.sort(ts)
    if n >= 9:
        ts[5:9] = ts[5]
    price = 100 + rng.standard_normal(n).cumsum()
    return TickBatch.from_arrays(
        symbol, ts, price, rng.random(n), rng.choice([1, -1], n), np.arange(n)
    )


def _venue(data: dict[str, TickBatch], **options: object) -> ReplayVenue:
    insts = [Instrument(venue="replay", symbol=s) for s in data]
    venue = ReplayVenue(ReplayConfig(path="unused.parquet", **options), instruments=insts)
    venue._data = dict(data)
    venue.set_decision_step(STEP)
    return venue


def _streamed(venue: ReplayVenue) -> list[TickBatch]:
    async def collect() -> list[TickBatch]:
        insts = await venue.instruments()
        return [b async for b in venue.stream_trades(insts)]

    return anyio.run(collect)


def _same_batches(a: list[TickBatch], b: list[TickBatch]) -> None:
    assert [x.instrument for x in a] == [x.instrument for x in b]
    for x, y in zip(a, b, strict=True):
        for col in ("ts_ns", "price", "size", "side", "trade_id"):
            assert np.array_equal(getattr(x, col), getattr(y, col))


def _reference(data: dict[str, TickBatch], key_of: dict[str, str]) -> list[TickBatch]:
    """The interval merge as the replay did it before (min of the pending series' next
    trades, then each series' trades before that interval's end, in instrument order)."""
    pos = dict.fromkeys(data, 0)
    pending = [s for s, b in data.items() if len(b)]
    out: list[TickBatch] = []
    while pending:
        lo = min(int(data[s].ts_ns[pos[s]]) for s in pending)
        hi = (lo // STEP + 1) * STEP
        for s in pending:
            src, start = data[s], pos[s]
            stop = int(src.ts_ns.searchsorted(hi, "left"))
            if stop > start:
                piece = src.slice(start, stop)
                out.append(
                    TickBatch(
                        instrument=key_of[s],
                        ts_ns=piece.ts_ns,
                        price=piece.price,
                        size=piece.size,
                        side=piece.side,
                        trade_id=piece.trade_id,
                    )
                )
                pos[s] = stop
        pending = [s for s in pending if pos[s] < len(data[s])]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_interval_batches_are_the_streamed_batches_of_the_interval_merge(seed):
    """Series starting at different times, one empty, one starting after another ended,
    trades on grid times: the direct iterator yields the stream's batches, which are the
    interval merge's (every trade of an interval before any of a later one)."""
    t0 = 1_700_000_000 * 1_000_000_000
    data = {
        "AAA": _series(seed, 900, t0, "AAA"),
        "BBB": _series(seed + 10, 400, t0 + 7 * STEP + 13, "BBB"),
        "CCC": TickBatch.empty("CCC"),
        "DDD": _series(seed + 20, 50, t0 + 45 * STEP, "DDD"),
        "EEE": _series(seed + 30, 1, t0 + 3 * STEP, "EEE"),
    }
    venue = _venue(data)
    insts = anyio.run(venue.instruments)
    direct = venue.interval_batches(insts)
    assert direct is not None
    got = list(direct)
    _same_batches(got, _streamed(venue))
    _same_batches(got, _reference(data, {i.symbol: i.key for i in insts}))
    last_interval = -1
    for batch in got:
        intervals = batch.ts_ns // STEP
        assert intervals[0] == intervals[-1] >= last_interval
        last_interval = int(intervals[0])
    assert sum(len(b) for b in got) == sum(len(b) for b in data.values())


def test_interval_batches_leave_paced_subscribed_and_single_replays_to_the_stream():
    t0 = 1_700_000_000 * 1_000_000_000
    two = {"AAA": _series(1, 100, t0, "AAA"), "BBB": _series(2, 100, t0, "BBB")}
    for options in ({"speed": 10.0}, {"subscribe": True}):
        venue = _venue(two, **options)
        assert venue.interval_batches(anyio.run(venue.instruments)) is None
    one = _venue({"AAA": two["AAA"], "BBB": TickBatch.empty("BBB")})
    assert one.interval_batches(anyio.run(one.instruments)) is None
    no_grid = ReplayVenue(ReplayConfig(path="unused.parquet"))
    no_grid._data = dict(two)
    assert no_grid.interval_batches([Instrument(venue="replay", symbol="AAA")]) is None


def test_paper_mode_keeps_the_feed_task_and_its_stream(tmp_path):
    """Paper (and live) runs keep their path: the feed in a task of its own, handed over
    through the stream (a stop cancels only the wait for a batch). The same engine, every
    trade delivered, none read directly."""
    data = tmp_path / "synth_paper.parquet"
    symbols = _tapes(data, 2, 3_000, 1.0, sample=False)
    text = demo_config_text(tmp_path).replace(SAMPLE.as_posix(), data.as_posix())
    start = text.index("[[instruments]]")
    end = text.index("\n\n", start) + 2
    text = text[:start] + "".join(_instrument(s) for s in symbols) + text[end:]
    text = text.replace('mode = "backtest"', 'mode = "paper"').replace(
        'plugin = "replay"\n', 'plugin = "replay"\nspeed = 3000.0\n'
    )
    cfg = tmp_path / "paper.toml"
    cfg.write_text(text)
    engine = Engine(load_config(cfg), run_id="paper", journal_path=str(tmp_path / "p.duckdb"))
    assert engine._direct_feed() is None
    result = anyio.run(engine.run)
    assert engine.direct_batches == 0
    assert engine.ticks == sum(len(b) for b in load(data).batches.values())
    assert result.summary["decisions"] > 0
