"""The stepped engine's exit checks over a :class:`~tradewind.trading.exit_scan.HoldWindow`,
to test an exit monitor's ``scan`` against (see :class:`tradewind.testing.conformance.
ExitConformance`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from tradewind.model import Candle, Position, TickBatch
from tradewind.trading.exit_scan import HoldWindow

NS_MIN = 60_000_000_000


def hold_window(
    ticks: TickBatch,
    columns: Mapping[str, npt.NDArray[np.float64]] | None = None,
    *,
    timeframe_ns: int = NS_MIN,
) -> HoldWindow:
    """``ticks`` with a decision close at the end of every ``timeframe_ns`` interval that has
    trades (as 1-minute candles close), and ``columns`` (one value per close) as analyzer
    outputs known ahead. ``rows(ticks)`` gives the number of closes."""
    closes = rows(ticks, timeframe_ns)
    return HoldWindow(
        ticks=ticks,
        row_ticks=ticks.ts_ns.searchsorted(closes, side="left").astype(np.intp),
        close_ns=closes,
        columns=dict(columns or {}),
    )


def rows(ticks: TickBatch, timeframe_ns: int = NS_MIN) -> npt.NDArray[np.int64]:
    """The close times :func:`hold_window` puts after ``ticks``."""
    return np.unique(ticks.ts_ns // timeframe_ns + 1) * timeframe_ns


def stepped_trigger(
    monitor: Any, position: Position, window: HoldWindow, ctx: Any, *, mark: bool = True
) -> int | None:
    """The close of ``window`` at which the engine's stepped path first exits: per close,
    ``on_ticks`` over the trades since the previous one (then ``ctx`` is marked at the last
    of them when ``mark``, as the engine marks after its exit monitors), then ``on_candle``
    with a candle closing there and the columns' values at that close. Changes the monitor's
    state as the engine would."""
    ticks = window.ticks
    start = 0
    for r in range(len(window)):
        end = int(window.row_ticks[r])
        if end > start:
            piece = ticks.slice(start, end)
            if monitor.on_ticks(position, piece, ctx) is not None:
                return r
            if mark:
                ctx.mark(piece.instrument, piece.last_price, piece.last_ts)
            start = end
        last = float(ticks.price[max(start - 1, 0)])
        close = int(window.close_ns[r])
        candle = Candle(
            instrument=ticks.instrument,
            timeframe_ns=NS_MIN,
            open_ts_ns=close - NS_MIN,
            open=last,
            high=last,
            low=last,
            close=last,
            volume=1.0,
            buy_volume=0.5,
            sell_volume=0.5,
            trades=1,
            buy_trades=1,
            sell_trades=1,
            vwap=last,
        )
        values = {k: float(v[r]) for k, v in window.columns.items()}
        if monitor.on_candle(position, candle, values, ctx) is not None:
            return r
    return None
