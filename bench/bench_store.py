"""Market store: write rate, and the time to read the last 15 minutes of one symbol among 100.

    python bench/bench_store.py [--symbols 100] [--minutes 40] [--url postgresql://...]

Writes ``--minutes`` of calibrated synthetic ticks (~1,600 trades a minute) for each of
``--symbols`` symbols into a temporary store, flushing like live mode does (one flush per
interval, all symbols), then times ``MarketStore.last(..., 15 min)`` on random symbols:
p50/p99 over 500 reads, after one warm-up read. Run for flush intervals of 1 and 5 minutes
(more, smaller part files vs fewer, bigger ones).

``--url`` runs the same against the market store on PostgreSQL (an empty database each: the
benchmark appends its ticks to whatever the database holds; password from ``PGPASSWORD``).
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
from tradewind.market.postgres import PgMarketStore
from tradewind.market.store import MarketStore

M = 60_000_000_000


def run(symbols: int, minutes: int, flush_every: int, url: str | None = None) -> None:
    ticks = _synth.ticks(int(minutes * 1600 * 1.05), speedup=20.0)
    ticks = ticks.slice(0, int(np.searchsorted(ticks.ts_ns, ticks.first_ts + minutes * M)))
    names = [f"SYM{i:03d}USDT" for i in range(symbols)]
    t0 = ticks.first_ts
    with tempfile.TemporaryDirectory() as tmp:
        store: MarketStore | PgMarketStore = (
            MarketStore(Path(tmp)) if url is None else PgMarketStore(url)
        )
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
        where = f"{files:,} part files" if url is None else "PostgreSQL daily partitions"
        print(
            f"\n{symbols} symbols x {minutes} min, flush every {flush_every} min: "
            f"{rows:,} rows in {where}"
        )
        how = "parquet zstd" if url is None else "binary COPY"
        print(
            f"  write (append + flush, {how})  {rows / write / 1e6:6.2f} M rows/s  ({write:.1f} s)"
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
    ap.add_argument("--flush-every", type=int, nargs="+", default=[1, 5], metavar="MIN")
    ap.add_argument("--url", default=None, help="a PostgreSQL market store (empty database)")
    args = ap.parse_args()
    if args.url is not None and len(args.flush_every) != 1:
        ap.error("with --url give one --flush-every (each run needs an empty database)")
    for every in args.flush_every:
        run(args.symbols, args.minutes, every, args.url)


if __name__ == "__main__":
    main()
