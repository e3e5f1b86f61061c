from typing import Any

# (open_ts, open, high, low, close, trades, buy_trades, sell_trades,
#  other, buy, sell, pv): the sums as integers of 2**-1074 units.
State = tuple[int, float, float, float, float, int, int, int, int, int, int, int]

def candles(
    ts: Any,
    price: Any,
    size: Any,
    side: Any,
    tfs: tuple[int, ...],
    cur_open: tuple[int | None, ...],
    watermark: int | None,
    /,
) -> int | tuple[bytearray, bytearray, tuple[tuple[int, int, State | None, State], ...]] | None: ...
def bucket(
    ts: Any, price: Any, size: Any, side: Any, open_ts: int, watermark: int | None, /
) -> int | State | None: ...
