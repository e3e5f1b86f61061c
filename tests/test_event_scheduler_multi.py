"""Several replayed instruments with the event scheduler on (``[run] event_scheduler``): each
instrument's block reaches past the feed's interval batches (tradewind.trading.block_lookahead),
and the run is the stepped run bit for bit: the same journal (signals, vetoes, orders, fills,
positions, events), funnel, decision counts, equity curve, charted series, candles and fills,
with 2, 3 and 10 instruments, on the shipped sample beside synthetic tapes and on synthetic
tapes at ~80 and ~1,600 trades a minute, at block sizes of 1M ticks, one interval (0) and one
tick. The demo config keeps its filters that read the whole portfolio (max positions,
exposure, daily drawdown) and the portfolio guard exit, so instruments' decisions depend on
each other's positions."""

from __future__ import annotations

from pathlib import Path

import anyio
import numpy as np
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.market import synth
from tradewind.market.importers import load, ticks_parquet
from tradewind.model import TickBatch
from tradewind.trading.engine import Engine

from tests.test_determinism import _rows
from tests.test_engine import SAMPLE, demo_config_text
from tests.test_event_scheduler import BUSY_PRIMARY


def _symbol(n: int) -> str:
    return f"SYN{n:02d}USDT"


def _instrument(symbol: str) -> str:
    return (
        f'[[instruments]]\nsymbol = "{symbol}"\nvenue = "sim"\ndata = "replay"\nkind = "perp"\n'
        'tick_size = "0.01"\nlot_size = "0.001"\nmin_notional = "5"\n'
        'maker_fee = "0.0002"\ntaker_fee = "0.0004"\n\n'
    )


def _tapes(
    path: Path, count: int, n: int, speedup: float, *, sample: bool, hole: bool = False
) -> list[str]:
    """A parquet file of ``count`` instruments over the same hours: the shipped sample's
    BTCUSDT first when ``sample``, then synthetic tapes calibrated on it (fixed seeds),
    ``n`` trades each, time compressed ``speedup`` times; with ``hole``, the second tape
    misses an hour of trades (a data gap: the default ``max_gap`` is 45 minutes). Returns
    the symbols."""
    btc = next(iter(load(SAMPLE).batches.values()))
    params = synth.calibrate(btc)
    per_hour = len(btc) / ((btc.last_ts - btc.first_ts) / synth.NS_PER_HOUR)
    batches: dict[str, TickBatch] = {}
    if sample:
        batches["BTCUSDT"] = btc
    while len(batches) < count:
        symbol = _symbol(len(batches))
        out = synth.generate(
            params,
            hours=1.2 * n / per_hour + 0.5,
            seed=100 + len(batches),
            instrument=symbol,
            start_ns=btc.first_ts,
        ).slice(0, n)
        if speedup != 1.0:
            t0 = out.first_ts
            ts = t0 + ((out.ts_ns - t0) / speedup).astype(np.int64)
            out = TickBatch.from_arrays(symbol, ts, out.price, out.size, out.side, out.trade_id)
        if hole and len(batches) == 1:
            lo = out.first_ts + (out.last_ts - out.first_ts) * 2 // 5
            ts = out.ts_ns
            keep = (ts < lo) | (ts >= lo + 3_600_000_000_000)
            out = TickBatch.from_arrays(
                symbol,
                ts[keep],
                out.price[keep],
                out.size[keep],
                out.side[keep],
                out.trade_id[keep],
            )
        batches[symbol] = out
    ticks_parquet.write(path, batches, exchange="synth", market="perp")
    return list(batches)


def _multi_config(
    tmp_path: Path,
    data: Path,
    symbols: list[str],
    *,
    scheduler: bool,
    block: int,
    extra: str = "",
    latency_ms: int = 25,
) -> Path:
    """The demo config over ``symbols`` of ``data``, with the scheduler on or off and blocks of
    ``block`` ticks, written to one path (the runs table names it)."""
    text = demo_config_text(tmp_path).replace(SAMPLE.as_posix(), data.as_posix())
    start = text.index("[[instruments]]")
    end = text.index("\n\n", start) + 2
    text = text[:start] + "".join(_instrument(s) for s in symbols) + text[end:]
    assert "latency_ms = 25\n" in text
    text = text.replace("latency_ms = 25\n", f"latency_ms = {latency_ms}\n", 1)
    flag = "true" if scheduler else "false"
    text = text.replace("[run]\n", f"[run]\nblock_ticks = {block}\nevent_scheduler = {flag}\n", 1)
    cfg = tmp_path / "run.toml"
    cfg.write_text(text + extra)
    return cfg


def _run(
    tmp_path: Path,
    data: Path,
    symbols: list[str],
    *,
    scheduler: bool,
    block: int,
    extra: str,
    latency_ms: int = 25,
) -> tuple[dict, object, Engine]:
    cfg = _multi_config(
        tmp_path,
        data,
        symbols,
        scheduler=scheduler,
        block=block,
        extra=extra,
        latency_ms=latency_ms,
    )
    journal = tmp_path / f"multi_{scheduler}_{block}.duckdb"
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
    result = anyio.run(engine.run)
    return _rows(journal), result, engine


def _assert_same(
    tmp_path: Path,
    data: Path,
    symbols: list[str],
    *,
    extra: str = "",
    blocks=(1_000_000, 0, 1),
    gaps: int = 0,
    latency_ms: int = 25,
) -> None:
    for block in blocks:
        base_rows, base, stepped = _run(
            tmp_path,
            data,
            symbols,
            scheduler=False,
            block=block,
            extra=extra,
            latency_ms=latency_ms,
        )
        rows, result, engine = _run(
            tmp_path,
            data,
            symbols,
            scheduler=True,
            block=block,
            extra=extra,
            latency_ms=latency_ms,
        )
        assert stepped._lookahead is None
        if block not in (0, 1):
            # Every instrument's block reached past its interval batch.
            assert engine._lookahead is not None
            assert engine._lookahead.opened >= len(symbols), engine._lookahead.opened
            # Batches inside a block past its first were validated when the block opened.
            assert engine._lookahead.prevalidated > 0
            # ... and each of them moved the block on without comparing it with its series
            # a second time.
            assert engine._lookahead.matched == engine._lookahead.prevalidated
            # Most closes went the short way, and the array predicates judged candidates.
            quiet = engine._quiet_closes
            assert quiet is not None
            assert quiet.closes > result.summary["decisions"] // 2, quiet.closes
            assert quiet.rejected_by_arrays > 0
            assert sum(quiet.rejected_by_gate.values()) == quiet.rejected_by_arrays
            # Quiet closes that sent nothing left the step's end out (nothing to publish).
            assert 0 < quiet.idle_steps <= quiet.closes
            # Trades between decision points that nothing could act on went the short way.
            assert engine._quiet_ticks is quiet and quiet.pieces > 0
        # There is something to compare: signals, and orders and fills of several instruments.
        assert base.summary["funnel"]["signals"] >= 2, block
        assert len({f.instrument for f in base.fills}) >= 2, block
        for table in TABLES:
            assert rows[table] == base_rows[table], (block, table)
        assert result.summary == base.summary, block
        assert engine.strategy.rejected == stepped.strategy.rejected
        assert engine.strategy.evaluated == stepped.strategy.evaluated
        assert (engine.candles, engine.decision_points, engine.ticks) == (
            stepped.candles,
            stepped.decision_points,
            stepped.ticks,
        )
        assert result.equity_curve == base.equity_curve, block
        assert result.series == base.series, block
        assert result.candles == base.candles, block
        assert result.price_curve == base.price_curve, block
        fills = [(f.ts_ns, f.instrument, f.side, f.quantity, f.price, f.fee) for f in result.fills]
        assert fills == [
            (f.ts_ns, f.instrument, f.side, f.quantity, f.price, f.fee) for f in base.fills
        ]
        assert result.closed_trades == base.closed_trades, block
        assert len(result.data_gaps) == len(base.data_gaps) == gaps, block


@pytest.mark.slow
@pytest.mark.parametrize("count", [2, 3])
def test_the_sample_beside_synthetic_tapes_gives_the_stepped_run(tmp_path, count):
    data = tmp_path / "sample_multi.parquet"
    symbols = _tapes(data, count, 6_000, 1.0, sample=True)
    _assert_same(tmp_path, data, symbols)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("count", "n", "speedup", "extra", "blocks"),
    [
        (3, 12_000, 1.0, "", (1_000_000, 0, 1)),
        (10, 4_000, 1.0, "", (1_000_000, 0)),
        (3, 60_000, 20.0, BUSY_PRIMARY, (1_000_000, 0)),
    ],
)
def test_synthetic_tapes_give_the_stepped_run(tmp_path, count, n, speedup, extra, blocks):
    data = tmp_path / f"synth_{count}_{speedup:g}x.parquet"
    symbols = _tapes(data, count, n, speedup, sample=False)
    _assert_same(tmp_path, data, symbols, extra=extra, blocks=blocks)


def test_blocks_shared_by_the_instruments_and_ending_at_a_data_gap_give_the_stepped_run(
    tmp_path,
):
    """``block_ticks`` 3,000 over 3 instruments: blocks of 1,000 trades, a dozen per
    instrument, each reaching past several batches; one tape has an hour-long hole, where its
    block ends (the gap is handled as stepping handles it)."""
    data = tmp_path / "synth_hole.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False, hole=True)
    _assert_same(tmp_path, data, symbols, blocks=(3_000, 1_000_000), gaps=1)
    _, _, engine = _run(tmp_path, data, symbols, scheduler=True, block=3_000, extra="")
    assert engine._lookahead is not None and engine._lookahead.block_ticks == 1_000
    assert engine._lookahead.opened >= 3 * 10


def test_more_instruments_than_shares_give_the_stepped_run(tmp_path):
    """24 instruments share ``block_ticks`` 24,000 in ``MAX_SHARES`` (20) shares: blocks of
    1,200 trades (not 1,000), several per instrument, each reaching past many batches; every
    journal table, the summary, the curves and fills are the stepped run's, at that block
    size and at one decision interval."""
    from tradewind.trading.block_lookahead import MAX_SHARES

    assert MAX_SHARES == 20
    data = tmp_path / "synth_24.parquet"
    symbols = _tapes(data, 24, 3_000, 1.0, sample=False)
    _assert_same(tmp_path, data, symbols, blocks=(24_000, 0))
    _, _, engine = _run(tmp_path, data, symbols, scheduler=True, block=24_000, extra="")
    assert engine._lookahead is not None and engine._lookahead.block_ticks == 1_200
    assert engine._lookahead.opened >= 24 * 2


def test_orders_in_flight_across_closes_give_the_stepped_run(tmp_path):
    """With 90 s of venue latency an entry is still in flight at its instrument's next close:
    that close decides nothing (no candidate counted) on the short way as in a step."""
    data = tmp_path / "synth_latency.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False)
    _assert_same(tmp_path, data, symbols, blocks=(1_000_000,), latency_ms=90_000)


def test_trades_nothing_can_act_on_taken_the_short_way_give_the_engines_step(tmp_path):
    """The same run with every piece of trades between decision points through the engine's
    ``_on_ticks`` and with the quiet ones taken by ``QuietCloses.ticks``: the same journal,
    result and counters. Orders rest across batches (90 s of venue latency), so some pieces
    can fill an order and take the step, and positions are held under the exit monitors."""
    data = tmp_path / "synth_ticks.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=1_000_000, latency_ms=90_000)
    runs = []
    for short in (False, True):
        journal = tmp_path / f"ticks_{short}.duckdb"
        engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
        assert engine._quiet_ticks is not None
        if not short:
            engine._quiet_ticks = None
        stepped_pieces = []
        on_ticks = engine._on_ticks

        async def counted(st, piece, on_ticks=on_ticks, stepped_pieces=stepped_pieces):
            stepped_pieces.append(len(piece))
            await on_ticks(st, piece)

        engine._on_ticks = counted
        result = anyio.run(engine.run)
        runs.append((_rows(journal), result, engine, len(stepped_pieces)))
    (base_rows, base, stepped, all_pieces), (rows, result, engine, some_pieces) = runs
    quiet = engine._quiet_ticks
    assert quiet is not None and quiet.pieces > 0
    assert stepped._quiet_closes is not None and stepped._quiet_closes.pieces == 0
    # Both kinds of piece occurred: some took the engine's step (an order could fill, or an
    # exit watched a position).
    assert base.summary["funnel"]["signals"] >= 2
    assert len({f.instrument for f in base.fills}) >= 2
    assert 0 < some_pieces < all_pieces
    assert some_pieces + quiet.pieces == all_pieces
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    assert (engine.candles, engine.decision_points, engine.ticks) == (
        stepped.candles,
        stepped.decision_points,
        stepped.ticks,
    )
    assert result.equity_curve == base.equity_curve
    assert result.series == base.series
    assert result.candles == base.candles
    assert result.price_curve == base.price_curve
    assert result.fills == base.fills
    assert result.closed_trades == base.closed_trades
