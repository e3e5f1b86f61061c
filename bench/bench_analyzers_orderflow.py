"""Update cost of the order-flow analyzer: microseconds per candle, and per values() read.

    python bench/bench_analyzers_orderflow.py [--minutes N]

Feeds a seeded session of 1m, 5m and 15m candles in close order (as the engine does) to
``OrderFlowAnalyzer`` with its default config and prints the mean cost of ``on_candle`` and of
``values()``, best of 5 runs. Times are process CPU time (``time.process_time``), so other
load on the machine does not inflate them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tradewind.model import Candle
from tradewind.testing import default_instrument
from tradewind_analyzer_orderflow import OrderFlowAnalyzer, OrderFlowConfig

MIN = 60 * 10**9


def session(minutes: int, seed: int = 5) -> list[Candle]:
    """1m/5m/15m candles of a seeded session in close order, with random aggressor splits."""
    rng = np.random.default_rng(seed)
    inst = default_instrument().key
    out = []
    for tf_min in (1, 5, 15):
        n = minutes // tf_min
        buy = rng.lognormal(0, 1, n) * tf_min
        sell = rng.lognormal(0, 1, n) * tf_min
        trades = rng.integers(1, 50, (2, n)) * tf_min
        for i in range(n):
            out.append(
                Candle(
                    instrument=inst,
                    timeframe_ns=tf_min * MIN,
                    open_ts_ns=i * tf_min * MIN,
                    open=50_000.0,
                    high=50_010.0,
                    low=49_990.0,
                    close=50_000.0,
                    volume=float(buy[i] + sell[i]),
                    buy_volume=float(buy[i]),
                    sell_volume=float(sell[i]),
                    trades=int(trades[0, i] + trades[1, i]),
                    buy_trades=int(trades[0, i]),
                    sell_trades=int(trades[1, i]),
                    vwap=50_000.0,
                )
            )
    out.sort(key=lambda c: (c.close_ts_ns, c.timeframe_ns))
    return out


def per_candle_us(candles: list[Candle], runs: int = 5) -> tuple[float, float]:
    """(best mean µs per on_candle, best mean µs per values()) over ``runs`` fresh analyzers."""
    inst = default_instrument()
    best_update = best_read = float("inf")
    for _ in range(runs):
        analyzer = OrderFlowAnalyzer(config=OrderFlowConfig(), instrument=inst)
        on_candle = analyzer.on_candle
        t0 = time.process_time()
        for c in candles:
            on_candle(c)
        best_update = min(best_update, (time.process_time() - t0) / len(candles) * 1e6)
        reads = 20_000
        t0 = time.process_time()
        for _ in range(reads):
            analyzer.values()
        best_read = min(best_read, (time.process_time() - t0) / reads * 1e6)
    return best_update, best_read


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=60_000)
    args = ap.parse_args()
    candles = session(args.minutes)
    update, read = per_candle_us(candles)
    print(f"orderflow analyzer, default config (1m/5m/15m), {len(candles):,} candles")
    print(f"  on_candle: {update:.2f} µs per candle")
    keys = len(OrderFlowAnalyzer(OrderFlowConfig(), default_instrument()).values())
    print(f"  values():  {read:.2f} µs per read ({keys} keys)")


if __name__ == "__main__":
    main()
