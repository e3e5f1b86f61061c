"""Helpers of the profile analyzer's tests: the recorded tape and hand-built candles."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
from tradewind.model import Candle, Instrument, InstrumentKind, TickBatch

RESOURCES = Path(__file__).parent / "resources"
MIN = 60 * 10**9
T0 = 1_700_000_000 * 10**9 // (15 * MIN) * (15 * MIN)  # a 15m boundary


def binance_btcusdt() -> Instrument:
    """Binance USDT-M BTCUSDT as it traded in February 2020 (tick 0.01, lot 0.001)."""
    return Instrument(
        venue="binance",
        symbol="BTCUSDT",
        kind=InstrumentKind.PERP,
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.001"),
    )


def load_tardis_trades() -> TickBatch:
    """The recorded Tardis/Binance tape in resources/trades.csv (timestamps µs → ns)."""
    ts, price, size, side, ids = [], [], [], [], []
    with (RESOURCES / "trades.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            ts.append(int(row["timestamp"]) * 1000)
            price.append(float(row["price"]))
            size.append(float(row["amount"]))
            side.append(1 if row["side"] == "buy" else -1)
            ids.append(int(row["id"]))
    order = np.argsort(np.asarray(ts), kind="stable")
    return TickBatch.from_arrays(
        "binance:BTCUSDT",
        np.asarray(ts)[order],
        np.asarray(price)[order],
        np.asarray(size)[order],
        np.asarray(side)[order],
        np.asarray(ids)[order],
    )


def candle(
    i: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float = 10.0,
    *,
    tf_min: int = 15,
    start: int = T0,
) -> Candle:
    """The ``i``-th candle of timeframe ``tf_min`` minutes from ``start``, written by hand."""
    assert lo <= min(o, c) and h >= max(o, c), "a hand-built candle must be consistent"
    tf = tf_min * MIN
    return Candle(
        instrument="binance:BTCUSDT",
        timeframe_ns=tf,
        open_ts_ns=start + i * tf,
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        buy_volume=v / 2,
        sell_volume=v / 2,
        trades=10,
        buy_trades=5,
        sell_trades=5,
        vwap=(h + lo + c) / 3,
    )
