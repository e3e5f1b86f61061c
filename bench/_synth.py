"""Synthetic trade ticks for the benchmarks, with a fixed seed.

Uses :mod:`tradewind.market.synth` calibrated on the real Tardis sample in tests/data (Binance
USD-M BTCUSDT, February 2020, about 80 trades a minute). ``speedup`` compresses time, so that
``speedup=20`` gives the ~1,600 trades a minute of a busy modern BTCUSDT perpetual with the same
sizes, sides and returns.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from tradewind.market import synth
from tradewind.market.importers import load
from tradewind.model.ticks import TickBatch

SAMPLE = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "data"
    / ("tardis_binance-futures_BTCUSDT_trades.csv")
)
SEED = 20200222


def ticks(
    n: int,
    *,
    speedup: float = 1.0,
    seed: int = SEED,
    instrument: str = "BTCUSDT",
    start_ns: int | None = None,
) -> TickBatch:
    """Exactly ``n`` calibrated synthetic ticks, deterministic for a given seed."""
    sample = next(iter(load(SAMPLE).batches.values()))
    params = synth.calibrate(sample)
    per_hour = len(sample) / ((sample.last_ts - sample.first_ts) / synth.NS_PER_HOUR)
    hours = 1.1 * n / per_hour + 1.0
    out = synth.generate(params, hours=hours, seed=seed, instrument=instrument, start_ns=start_ns)
    while len(out) < n:  # very unlikely with 10 % headroom; keep exactly n regardless
        hours *= 1.5
        out = synth.generate(
            params, hours=hours, seed=seed, instrument=instrument, start_ns=start_ns
        )
    out = out.slice(0, n)
    if speedup != 1.0:
        t0 = out.first_ts
        ts = t0 + ((out.ts_ns - t0) / speedup).astype(np.int64)
        out = TickBatch.from_arrays(instrument, ts, out.price, out.size, out.side, out.trade_id)
    return out


def per_minute(batch: TickBatch) -> float:
    """Average trades per minute of ``batch``."""
    minutes = max((batch.last_ts - batch.first_ts) / 60e9, 1 / 60)
    return len(batch) / minutes if math.isfinite(minutes) else float("nan")
