"""Helpers of the microstructure analyzer's tests: candles by hand, long random paths, numpy."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt
from tradewind.model import Candle, Instrument, InstrumentKind

MIN = 60 * 10**9
T0 = 1_700_000_000 * 10**9 // MIN * MIN


def btcusdt() -> Instrument:
    """A BTCUSDT perp (tick 0.1, lot 0.001)."""
    return Instrument(
        venue="binance",
        symbol="BTCUSDT",
        kind=InstrumentKind.PERP,
        tick_size=Decimal("0.1"),
        lot_size=Decimal("0.001"),
    )


def candle(
    i: int, o: float, h: float, lo: float, c: float, v: float = 10.0, *, tf_min: int = 1
) -> Candle:
    """The ``i``-th candle of ``tf_min`` minutes from T0, written by hand."""
    tf = tf_min * MIN
    return Candle(
        instrument="binance:BTCUSDT",
        timeframe_ns=tf,
        open_ts_ns=T0 + i * tf,
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        buy_volume=v / 2,
        sell_volume=v / 2,
        trades=1,
        buy_trades=1,
        sell_trades=0,
        vwap=c,
    )


def random_closes(n: int, seed: int) -> npt.NDArray[np.float64]:
    """A 1m close path near 50,000 on a 0.1 grid, with calm, wild and perfectly flat stretches."""
    rng = np.random.default_rng(seed)
    vol = np.where(rng.random(n) < 0.05, 5e-3, 4e-4)  # 5 % of minutes are wild
    closes = np.round(50_000 * np.exp(np.cumsum(rng.normal(0, vol))), 1)
    for start in rng.integers(0, n - 60, size=max(1, n // 2000)):
        closes[start : start + int(rng.integers(5, 60))] = closes[start]  # a market gone quiet
    return closes


def candles_from_closes(
    closes: npt.NDArray[np.float64], volumes: npt.NDArray[np.float64]
) -> list[Candle]:
    """1m candles whose open is the previous close, with wicks around the body."""
    out = []
    prev = float(closes[0])
    for i, (c, v) in enumerate(zip(closes.tolist(), volumes.tolist(), strict=True)):
        hi, lo = max(prev, c) + 0.5 * (i % 3), min(prev, c) - 0.5 * (i % 5)
        out.append(candle(i, prev, hi, lo, c, v))
        prev = c
    return out


def numpy_lag1(window: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each row (as np.corrcoef(row[:-1], row[1:])); NaN if flat."""
    x, y = window[:, :-1], window[:, 1:]
    xm = x - x.mean(axis=1, keepdims=True)
    ym = y - y.mean(axis=1, keepdims=True)
    flat = (x.max(axis=1) == x.min(axis=1)) | (y.max(axis=1) == y.min(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xm * ym).sum(axis=1) / np.sqrt((xm**2).sum(axis=1) * (ym**2).sum(axis=1))
    return np.where(flat, np.nan, r)
