"""Update cost of the microstructure analyzer: µs per candle and per values() read.

    python bench/bench_analyzers_microstructure.py [--minutes N]

Feeds a seeded session of 1m, 5m and 15m candles in close order (as the engine does) to
``MicrostructureAnalyzer`` with its default config (only the 1m candles are measured; the
others are skipped after one comparison) and prints the mean cost of ``on_candle`` per 1m
candle and per candle of any timeframe, and of ``values()``, best of 5 runs. A second line
uses 60-candle windows to show that the cost does not grow with the window (O(1) updates).
Times are process CPU time (``time.process_time``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tradewind.model import Candle
from tradewind.testing import default_instrument
from tradewind_analyzer_microstructure import MicrostructureAnalyzer, MicrostructureConfig
from tradewind_analyzer_microstructure.plugin import VALUE_KEYS

MIN = 60 * 10**9


def session(minutes: int, seed: int = 5) -> list[Candle]:
    """1m/5m/15m candles of a seeded random walk near 50,000, in close order."""
    rng = np.random.default_rng(seed)
    inst = default_instrument().key
    closes = np.round(50_000 * np.exp(np.cumsum(rng.normal(0, 4e-4, minutes))), 1)
    opens = np.r_[closes[0], closes[:-1]]
    highs = np.maximum(opens, closes) + np.round(rng.exponential(5, minutes), 1)
    lows = np.minimum(opens, closes) - np.round(rng.exponential(5, minutes), 1)
    vols = rng.lognormal(1, 1, minutes)
    out = []
    for tf_min in (1, 5, 15):
        for s in range(0, minutes - tf_min + 1, tf_min):
            e = s + tf_min
            v = float(vols[s:e].sum())
            out.append(
                Candle(
                    instrument=inst,
                    timeframe_ns=tf_min * MIN,
                    open_ts_ns=s * MIN,
                    open=float(opens[s]),
                    high=float(highs[s:e].max()),
                    low=float(lows[s:e].min()),
                    close=float(closes[e - 1]),
                    volume=v,
                    buy_volume=v / 2,
                    sell_volume=v / 2,
                    trades=10,
                    buy_trades=5,
                    sell_trades=5,
                    vwap=float(closes[e - 1]),
                )
            )
    out.sort(key=lambda c: (c.close_ts_ns, c.timeframe_ns))
    return out


def measure(
    candles: list[Candle], cfg: MicrostructureConfig, runs: int = 5
) -> tuple[float, float, float]:
    """(µs per 1m candle, µs per candle of any timeframe, µs per values()), best of ``runs``."""
    inst = default_instrument()
    ones = sum(1 for c in candles if c.timeframe_ns == MIN)
    best_update = best_read = float("inf")
    for _ in range(runs):
        analyzer = MicrostructureAnalyzer(config=cfg, instrument=inst)
        on_candle = analyzer.on_candle
        t0 = time.process_time()
        for c in candles:
            on_candle(c)
        best_update = min(best_update, time.process_time() - t0)
        reads = 20_000
        t0 = time.process_time()
        for _ in range(reads):
            analyzer.values()
        best_read = min(best_read, (time.process_time() - t0) / reads * 1e6)
    return best_update / ones * 1e6, best_update / len(candles) * 1e6, best_read


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=60_000)
    args = ap.parse_args()
    candles = session(args.minutes)
    print(
        f"microstructure analyzer, {len(candles):,} candles (1m/5m/15m, {args.minutes:,} minutes)"
    )
    for label, cfg in (
        ("default config (20 / 15 / 10)", MicrostructureConfig()),
        (
            "60-candle windows (60 / 60 / 60)",
            MicrostructureConfig(volume_period=60, zscore_period=60, autocorr_window=60),
        ),
    ):
        per_1m, per_any, read = measure(candles, cfg)
        print(
            f"  {label}: on_candle {per_1m:.2f} µs per 1m candle ({per_any:.2f} µs per "
            f"candle of any timeframe); values() {read:.2f} µs per read ({len(VALUE_KEYS)} keys)"
        )


if __name__ == "__main__":
    main()
