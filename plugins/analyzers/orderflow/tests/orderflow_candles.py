"""Scripted candles for the order-flow tests: only the aggressor split matters here."""

from __future__ import annotations

from tradewind.model import Candle
from tradewind.timeframes import parse_timeframe

INSTRUMENT = "sim:BTCUSDT"
T0 = 1_582_329_600 * 10**9  # 2020-02-22 00:00 UTC, a 15m boundary


def flow_candle(
    tf: str, open_ts_ns: int, buy: float, sell: float, buy_trades: int = 1, sell_trades: int = 1
) -> Candle:
    """A candle of timeframe ``tf`` with ``buy``/``sell`` aggressor volume at a flat 50,000."""
    return Candle(
        instrument=INSTRUMENT,
        timeframe_ns=parse_timeframe(tf),
        open_ts_ns=open_ts_ns,
        open=50_000.0,
        high=50_000.0,
        low=50_000.0,
        close=50_000.0,
        volume=buy + sell,
        buy_volume=buy,
        sell_volume=sell,
        trades=buy_trades + sell_trades,
        buy_trades=buy_trades,
        sell_trades=sell_trades,
        vwap=50_000.0,
    )


def closing_together(imb_1m: float, imb_5m: float, imb_15m: float, window: int = 0) -> list[Candle]:
    """The 1m, 5m and 15m candles closing together at the end of 15m window ``window``.

    Window 0 is [T0, T0 + 15m); the candles come in close order, fastest first.

    Sell volume is 10 on each, so buy = 10 * imbalance and the ratio is exact in binary.
    """
    m = 60 * 10**9
    start = T0 + window * 15 * m
    return [
        flow_candle("1m", start + 14 * m, 10 * imb_1m, 10.0),
        flow_candle("5m", start + 10 * m, 10 * imb_5m, 10.0),
        flow_candle("15m", start, 10 * imb_15m, 10.0),
    ]
