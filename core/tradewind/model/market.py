"""Market-data values derived from ticks: candles and the top of book."""

from __future__ import annotations

import attrs

#: Nanoseconds per second; timeframes are integer nanoseconds.
NS_PER_SECOND = 1_000_000_000


@attrs.frozen(kw_only=True)
class Candle:
    """An OHLCV bar of one timeframe, with the order-flow split by aggressor side.

    ``open_ts_ns`` is inclusive and ``open_ts_ns + timeframe_ns`` exclusive.
    """

    instrument: str
    timeframe_ns: int
    open_ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    buy_volume: float
    sell_volume: float
    trades: int
    buy_trades: int
    sell_trades: int
    vwap: float

    @property
    def close_ts_ns(self) -> int:
        """The exclusive end of the candle's interval."""
        return self.open_ts_ns + self.timeframe_ns


@attrs.frozen(kw_only=True)
class BookTop:
    """Best bid and offer at one instant."""

    instrument: str
    ts_ns: int
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float

    @property
    def mid(self) -> float:
        """The mid price."""
        return (self.bid_price + self.ask_price) / 2.0
