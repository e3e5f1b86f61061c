"""Candle aggregation throughput on 10M calibrated synthetic ticks.

    python bench/bench_candles.py [--ticks 10000000]

Prints ticks/s for: the vectorised ``aggregate`` per timeframe (1m, 5m, 15m: one pass each,
"state per timeframe"), ``CandleAggregator`` with 1m/5m/15m together fed in replay batches of
100,000 ticks, the engine's pattern of one ``update`` per 1-minute slice, and a paper run's
one ``update`` per 10-trade step. Each figure is the best of three runs on one core (process
CPU time), at two trade intensities: the sample's own (~80 trades a minute, so ~80 ticks per
1m candle) and 20x compressed (~1,600 a minute).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import _synth
import numpy as np
from tradewind.market.candles import CandleAggregator, aggregate
from tradewind.model.ticks import TickBatch

M = 60_000_000_000
TFS = (M, 5 * M, 15 * M)


def best(fn: Callable[[], object], runs: int = 3) -> float:
    """CPU seconds of the fastest of ``runs`` calls (process time: other load on the machine
    does not inflate it; the work is single-threaded)."""
    times = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def replay(batch: TickBatch, size: int) -> int:
    agg = CandleAggregator(batch.instrument, TFS)
    n = 0
    for lo in range(0, len(batch), size):
        n += len(agg.update(batch.slice(lo, lo + size)))
    return n + len(agg.flush())


def minute_slices(batch: TickBatch) -> list[TickBatch]:
    cuts = np.flatnonzero(np.diff(batch.ts_ns // M)) + 1
    bounds = [0, *cuts.tolist(), len(batch)]
    return [batch.slice(a, b) for a, b in itertools.pairwise(bounds)]


def engine_style(pieces: list[TickBatch]) -> None:
    agg = CandleAggregator(pieces[0].instrument, TFS)
    for p in pieces:
        agg.update(p)
    agg.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=10_000_000)
    n = ap.parse_args().ticks
    for speedup in (1.0, 20.0):
        t = time.perf_counter()
        ticks = _synth.ticks(n, speedup=speedup)
        gen = time.perf_counter() - t
        print(
            f"\n{n:,} ticks, {_synth.per_minute(ticks):,.0f} trades/min "
            f"(speedup {speedup:g}; generated in {gen:.1f} s)"
        )
        total = 0.0
        for tf in TFS:
            sec = best(lambda tf=tf, ticks=ticks: aggregate(ticks, tf))
            total += sec
            k = len(aggregate(ticks, tf))
            print(
                f"  aggregate {tf // M:>2}m            {n / sec / 1e6:6.1f} M ticks/s"
                f"  ({k:,} candles, {sec * 1e3:.0f} ms)"
            )
        print(f"  aggregate 1m+5m+15m (3 passes) {n / total / 1e6:6.1f} M ticks/s")
        sec = best(lambda ticks=ticks: replay(ticks, 100_000))
        k = replay(ticks, 100_000)
        print(
            f"  CandleAggregator 1m/5m/15m, 100k-tick batches  {n / sec / 1e6:6.1f} M ticks/s"
            f"  ({k:,} Candle objects, {sec * 1e3:.0f} ms)"
        )
        sub = ticks.slice(0, min(n, 2_000_000))
        pieces = minute_slices(sub)
        sec = best(lambda pieces=pieces: engine_style(pieces), runs=2)
        print(
            f"  CandleAggregator, one update per 1m slice "
            f"({len(sub) / len(pieces):,.0f} ticks each) {len(sub) / sec / 1e6:6.2f} M ticks/s,"
            f" {sec / len(pieces) * 1e6:.0f} us per update"
        )
        # A paper run's steps: one update per 10 trades (one fill per 10 ticks, issue 19).
        steps = [sub.slice(lo, lo + 10) for lo in range(0, min(len(sub), 200_000), 10)]
        sec = best(lambda steps=steps: engine_style(steps), runs=3)
        print(
            f"  CandleAggregator, one update per 10 trades (a paper step)"
            f" {sec / len(steps) * 1e6:6.2f} us per update"
        )


if __name__ == "__main__":
    main()
