"""Candles for the regime tests: the recorded Binance sample and seeded synthetic series."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tradewind.model import Candle, TickBatch
from tradewind.timeframes import parse_timeframe

RESOURCES = Path(__file__).parent / "resources"
SAMPLE = RESOURCES / "tardis_binance-futures_BTCUSDT_trades.csv"
INSTRUMENT = "binance:BTCUSDT"

Floats = npt.NDArray[np.float64]


def sample_ticks() -> TickBatch:
    """The 9,999 recorded trades (see resources/SOURCES.md) as one batch."""
    ts, price, size, side, ids = [], [], [], [], []
    with SAMPLE.open(newline="") as fh:
        for row in csv.DictReader(fh):
            ts.append(int(row["timestamp"]) * 1_000)  # microseconds -> nanoseconds
            price.append(float(row["price"]))
            size.append(float(row["amount"]))
            side.append(1 if row["side"] == "buy" else -1)
            ids.append(int(row["id"]))
    return TickBatch.from_arrays(INSTRUMENT, ts, price, size, side, ids)


def _groupby_candles(batch: TickBatch, timeframe_ns: int) -> list[Candle]:
    """Fallback when the core has no candle builder: one candle per non-empty bucket."""
    bucket = batch.ts_ns // timeframe_ns
    edges = np.flatnonzero(np.diff(bucket)) + 1
    out = []
    for s, e in zip(np.r_[0, edges], np.r_[edges, len(batch)], strict=True):
        p, q, buy = batch.price[s:e], batch.size[s:e], batch.side[s:e] > 0
        out.append(
            Candle(
                instrument=batch.instrument,
                timeframe_ns=timeframe_ns,
                open_ts_ns=int(bucket[s] * timeframe_ns),
                open=float(p[0]),
                high=float(p.max()),
                low=float(p.min()),
                close=float(p[-1]),
                volume=float(q.sum()),
                buy_volume=float(q[buy].sum()),
                sell_volume=float(q[~buy].sum()),
                trades=int(e - s),
                buy_trades=int(buy.sum()),
                sell_trades=int((~buy).sum()),
                vwap=float((p * q).sum() / q.sum()),
            )
        )
    return out


def sample_candles(timeframe: str = "1m") -> list[Candle]:
    """Candles of the recorded sample, built by the core's ``aggregate`` when it exists."""
    batch, tf = sample_ticks(), parse_timeframe(timeframe)
    try:
        from tradewind.market.candles import aggregate
    except ImportError:
        return _groupby_candles(batch, tf)
    return aggregate(batch, tf).to_candles()


def random_walk_candles(n: int, seed: int, timeframe: str = "15m") -> list[Candle]:
    """``n`` candles of a seeded geometric random walk, prices on a 0.5 tick.

    Closes move by N(0, 0.1 %) a candle; the open is the previous close; high and low stick out
    of the body by half-normal amounts. The coarse tick makes equal highs, equal lows and
    unchanged closes common, so the tie branches of +DM/-DM and RSI are exercised too.
    """
    rng = np.random.default_rng(seed)
    close = np.round(50_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n))) * 2) / 2
    open_ = np.r_[close[0], close[:-1]]
    high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 4e-4, n))) * 2) / 2
    low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 4e-4, n))) * 2) / 2
    tf = parse_timeframe(timeframe)
    t0 = 1_600_000_200 * 10**9 // tf * tf
    return [
        Candle(
            instrument=INSTRUMENT,
            timeframe_ns=tf,
            open_ts_ns=t0 + i * tf,
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


def ohlc(candles: list[Candle]) -> tuple[Floats, Floats, Floats]:
    """High, low and close columns of ``candles``."""
    return (
        np.array([c.high for c in candles]),
        np.array([c.low for c in candles]),
        np.array([c.close for c in candles]),
    )


def path_candles(
    closes: list[float] | npt.NDArray[np.float64], spread: float = 0.002, timeframe: str = "15m"
) -> list[Candle]:
    """Candles whose bodies join ``closes`` in turn, each wick ``spread`` beyond the body."""
    tf = parse_timeframe(timeframe)
    t0 = 1_582_329_600 * 10**9
    out = []
    prev = float(closes[0])
    for i, c in enumerate(closes):
        c = float(c)
        out.append(
            Candle(
                instrument=INSTRUMENT,
                timeframe_ns=tf,
                open_ts_ns=t0 + i * tf,
                open=prev,
                high=max(prev, c) * (1 + spread),
                low=min(prev, c) * (1 - spread),
                close=c,
                volume=1.0,
                buy_volume=0.5,
                sell_volume=0.5,
                trades=2,
                buy_trades=1,
                sell_trades=1,
                vwap=c,
            )
        )
        prev = c
    return out
