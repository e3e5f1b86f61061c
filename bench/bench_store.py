"""Market store: write rate, and the time to read the last 15 minutes of one symbol among 100.

    python bench/bench_store.py [--symbols 100] [--minutes 40]

Writes ``--minutes`` of calibrated synthetic ticks (~1,600 trades a minute) for each of
``--symbols`` symbols into a temporary store, flushing like live mode does (one flush per
interval, all symbols), then times ``MarketStore.last(..., 15 min)`` on random symbols:
p50/p99 over 500 reads, after one warm-up read. Run for flush intervals of 1 and 5 minutes
(more, smaller part files vs fewer, bigger ones).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import _synth
import numpy as np
from tradewind.market.store import MarketStore

M = 60_000_000_000


def run(symbols: int, minutes: int, flush_every: int) -> None:
    ticks = _synth.ticks(int(minutes * 1600 * 1.05), speedup=20.0)
    ticks = ticks.slice(0, int(np.searchsorted(ticks.ts_ns, ticks.first_ts + minutes * M)))
    names = [f"SYM{i:03d}USDT" for i in range(symbols)]
    t0 = ticks.first_ts
    with tempfile.TemporaryDirectory() as tmp:
        store = MarketStore(Path(tmp))
        rows = 0
        start = time.perf_counter()
        for w in range(0, minutes, flush_every):
            lo, hi = np.searchsorted(ticks.ts_ns, [t0 + w * M, t0 + (w + flush_every) * M])
            piece = ticks.slice(int(lo), int(hi))
            for name in names:
                store.append("binance", "usdm", name, piece)
            rows += store.flush()
        write = time.perf_counter() - start
        files = sum(1 for _ in Path(tmp).rglob("*.parquet"))
        print(
            f"\n{symbols} symbols x {minutes} min, flush every {flush_every} min: "
            f"{rows:,} rows in {files:,} part files"
        )
        print(
            f"  write (append + flush, parquet zstd)  {rows / write / 1e6:6.2f} M rows/s"
            f"  ({write:.1f} s)"
        )
        rng = random.Random(7)
        store.last("binance", "usdm", names[0], 15 * M)  # warm-up: connection, parquet reader
        times = []
        got = 0
        for _ in range(500):
            name = rng.choice(names)
            t = time.perf_counter()
            got = len(store.last("binance", "usdm", name, 15 * M))
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        print(
            f"  last 15 min of one symbol ({got:,} rows): p50 {statistics.median(times):.2f} ms,"
            f" p99 {times[int(0.99 * len(times)) - 1]:.2f} ms, max {times[-1]:.2f} ms"
        )
        t = time.perf_counter()
        info = store.info()
        print(f"  info() over {len(info)} symbols: {time.perf_counter() - t:.2f} s")
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--minutes", type=int, default=40)
    args = ap.parse_args()
    for every in (1, 5):
        run(args.symbols, args.minutes, every)


if __name__ == "__main__":
    main()
