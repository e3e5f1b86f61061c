"""Update cost of the regime analyzer and of each indicator in it: microseconds per candle.

    python bench/bench_analyzers_regime.py [--candles N]

Feeds a seeded random walk of 15m candles to ``RegimeAnalyzer`` (default config) and to each
streaming indicator on its own, and prints the mean cost per candle, best of 5 runs; also the
cost of a candle of another timeframe (ignored) and of a ``values()`` read. Times are process
CPU time (``time.process_time``), so other load on the machine does not inflate them.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
from tradewind.blocks import BlockRow
from tradewind.model import Candle, TickBatch
from tradewind.testing import default_instrument
from tradewind_analyzer_regime import (
    Adx,
    Atr,
    Ema,
    RegimeAnalyzer,
    RegimeConfig,
    RollingHurst,
    RollingMeanReversion,
    Rsi,
    Structure,
)

TF = 15 * 60 * 10**9


def walk(n: int, seed: int = 9) -> list[Candle]:
    """``n`` 15m candles of a seeded geometric random walk."""
    rng = np.random.default_rng(seed)
    close = 50_000 * np.exp(np.cumsum(rng.normal(0, 2e-3, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 1e-3, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 1e-3, n)))
    inst = default_instrument().key
    return [
        Candle(
            instrument=inst,
            timeframe_ns=TF,
            open_ts_ns=i * TF,
            open=float(open_[i]),
            high=float(high[i]),
            low=float(low[i]),
            close=float(close[i]),
            volume=1.0,
            buy_volume=0.5,
            sell_volume=0.5,
            trades=2,
            buy_trades=1,
            sell_trades=1,
            vwap=float(close[i]),
        )
        for i in range(n)
    ]


def best_us(run: Callable[[], None], n: int, runs: int = 5) -> float:
    """Best mean µs per item of ``run`` (which processes ``n`` items) over ``runs`` runs."""
    best = math.inf
    for _ in range(runs):
        t0 = time.process_time()
        run()
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candles", type=int, default=100_000)
    args = ap.parse_args()
    candles = walk(args.candles)
    n = len(candles)
    cfg = RegimeConfig()
    inst = default_instrument()
    empty = TickBatch.from_arrays(inst.key, [], [], [], [], [])
    hlc = [(c.high, c.low, c.close) for c in candles]
    logs = [math.log(c.close) for c in candles]

    def analyzer() -> None:
        on_candle = RegimeAnalyzer(config=cfg, instrument=inst).on_candle
        for c in candles:
            on_candle(c)

    rows = [BlockRow(close_ns=c.close_ts_ns, tick_end=0, candles=(c,)) for c in candles]

    def analyzer_block() -> None:
        for _ in RegimeAnalyzer(config=cfg, instrument=inst).on_block(empty, rows):
            pass

    def analyzer_ignored() -> None:
        on_candle = RegimeAnalyzer(config=RegimeConfig(timeframe="1h"), instrument=inst).on_candle
        for c in candles:
            on_candle(c)

    def three(make: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            update = make().update  # type: ignore[attr-defined]
            for h, lo, c in hlc:
                update(h, lo, c)

        return run

    def closes(make: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            update = make().update  # type: ignore[attr-defined]
            for _h, _lo, c in hlc:
                update(c)

        return run

    def hurst() -> None:
        h = RollingHurst(cfg.hurst_window, cfg.hurst_min_lag, cfg.hurst_max_lag)
        for x in logs:
            h.push(x)
            h.value  # noqa: B018 - the read is part of the cost

    def mean_reversion() -> None:
        push = RollingMeanReversion(cfg.mean_reversion_window, cfg.mean_reversion_horizon).push
        for x in logs:
            push(x)

    def structure() -> None:
        update = Structure(cfg.structure_candles).update
        for h, lo, _c in hlc:
            update(h, lo)

    warm = RegimeAnalyzer(config=cfg, instrument=inst)
    for c in candles[:500]:
        warm.on_candle(c)
    reads = 20_000
    rows = [
        ("RegimeAnalyzer.on_candle (all of it)", best_us(analyzer, n)),
        ("RegimeAnalyzer.on_block, one block of all candles", best_us(analyzer_block, n)),
        ("  candle of another timeframe (ignored)", best_us(analyzer_ignored, n)),
        ("  values() read", best_us(lambda: [warm.values() for _ in range(reads)], reads)),
        (f"  Adx({cfg.adx_period})", best_us(three(lambda: Adx(cfg.adx_period)), n)),
        (f"  Atr({cfg.atr_period})", best_us(three(lambda: Atr(cfg.atr_period)), n)),
        (f"  Rsi({cfg.rsi_period})", best_us(closes(lambda: Rsi(cfg.rsi_period)), n)),
        (f"  Ema({cfg.ema_slow})", best_us(closes(lambda: Ema(cfg.ema_slow)), n)),
        (
            f"  RollingHurst({cfg.hurst_window}, lags {cfg.hurst_min_lag}..{cfg.hurst_max_lag})",
            best_us(hurst, n),
        ),
        (
            f"  RollingMeanReversion({cfg.mean_reversion_window})",
            best_us(mean_reversion, n),
        ),
        (f"  Structure({cfg.structure_candles})", best_us(structure, n)),
    ]
    print(f"regime analyzer, default config, {n:,} candles of 15m (µs per candle, best of 5)")
    for label, us in rows:
        print(f"  {label:<48} {us:6.2f} µs")


if __name__ == "__main__":
    main()
