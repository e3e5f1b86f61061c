"""Deterministic market data for conformance tests: candle paths and tick batches."""

from __future__ import annotations

import numpy as np

from tradewind.model import Candle, TickBatch

NS_MIN = 60_000_000_000


def tick_path(
    instrument: str,
    *,
    minutes: int,
    seed: int,
    start_ns: int = 1_600_000_000 * 10**9,
    price: float = 50_000.0,
    per_minute: int = 30,
) -> TickBatch:
    """A seeded random-walk tape: ``per_minute`` trades a minute, sizes lognormal."""
    rng = np.random.default_rng(seed)
    n = minutes * per_minute
    ts = start_ns + np.sort(rng.integers(0, minutes * NS_MIN, n))
    prices = np.round(price * np.exp(np.cumsum(rng.normal(0, 4e-4, n))), 1)
    sizes = np.round(rng.lognormal(-3, 1, n), 3) + 0.001
    sides = np.where(rng.random(n) < 0.5, 1, -1)
    return TickBatch.from_arrays(instrument, ts, prices, sizes, sides, np.arange(n) + 1)


def _bar(instrument: str, tf: int, open_ts: int, b: TickBatch) -> Candle:
    buy = b.side > 0
    vol = float(b.size.sum())
    return Candle(
        instrument=instrument,
        timeframe_ns=tf,
        open_ts_ns=open_ts,
        open=float(b.price[0]),
        high=float(b.price.max()),
        low=float(b.price.min()),
        close=float(b.price[-1]),
        volume=vol,
        buy_volume=float(b.size[buy].sum()),
        sell_volume=float(b.size[~buy].sum()),
        trades=len(b),
        buy_trades=int(buy.sum()),
        sell_trades=int((~buy).sum()),
        vwap=float((b.price * b.size).sum() / vol),
    )


def candle_path(
    instrument: str, *, minutes: int, seed: int, timeframes_min: tuple[int, ...] = (1, 5, 15)
) -> list[Candle]:
    """Candles of every timeframe from :func:`tick_path`, ordered by close time then timeframe."""
    ticks = tick_path(instrument, minutes=minutes, seed=seed)
    out: list[Candle] = []
    for tf_min in timeframes_min:
        tf = tf_min * NS_MIN
        bucket = ticks.ts_ns // tf
        edges = np.flatnonzero(np.diff(bucket)) + 1
        starts = np.concatenate([[0], edges])
        stops = np.concatenate([edges, [len(ticks)]])
        for s, e in zip(starts, stops, strict=True):
            out.append(_bar(instrument, tf, int(bucket[s] * tf), ticks.slice(int(s), int(e))))
    out.sort(key=lambda c: (c.close_ts_ns, c.timeframe_ns))
    return out
