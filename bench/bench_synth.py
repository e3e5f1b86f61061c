"""Synthetic tick generation speed: 10 million calibrated BTCUSDT ticks, medians of 3.

``python bench/bench_synth.py [--ticks N] [--repeat K]`` prints ticks/s; the figure lives in
docs/performance.md (the unit test only checks the count, never the time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _synth import SAMPLE
from tradewind.market import synth
from tradewind.market.importers import load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sample = next(iter(load(SAMPLE).batches.values()))
    params = synth.calibrate(sample)
    per_hour = len(sample) / ((sample.last_ts - sample.first_ts) / synth.NS_PER_HOUR)
    hours = args.ticks / per_hour
    times = []
    n = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = synth.generate(params, hours=hours, seed=1)
        times.append(time.perf_counter() - t0)
        n = len(out)
    med = statistics.median(times)
    rate = n / med
    print(f"synth.generate: {n:,} ticks, median {med:.2f} s of {args.repeat} = {rate:,.0f} ticks/s")


if __name__ == "__main__":
    main()
