"""The trailing stop: exit when price falls ``trail_pct`` below the best price since entry.

For a long, the best price is the highest trade since the position opened (starting at the
entry price); the stop is ``best × (1 − trail_pct)`` and only ever rises. The exit triggers on
the first trade at or below the stop. Shorts mirror it. The seed's example: long entry 50,000,
high 51,000, 0.5 % trail → exit at 50,745.

The scan over a batch is vectorised: a running maximum (``np.maximum.accumulate``) seeded with
the best price so far, and the first trade at or through the running stop. A backtest's
look-ahead over a block (:meth:`TrailingStop.scan`) is the same computation over the trades up
to the block's last close.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np
import numpy.typing as npt
from tradewind import hookimpl
from tradewind.model import Candle, ExitDecision, Position, Side, TickBatch
from tradewind.protocols import RiskContext
from tradewind.trading.exit_scan import HoldWindow

try:
    from tradewind_exit_trailing import _kernel
except ImportError:  # pragma: no cover - not built: the Python and numpy paths do the same
    _kernel = None  # type: ignore[assignment]

#: Up to this many trades (the engine's pieces around a position), :meth:`TrailingStop.on_ticks`
#: runs a Python loop instead of paying numpy's fixed cost per call.
FEW = 64


@attrs.frozen(kw_only=True)
class TrailingConfig:
    """Options of the trailing stop."""

    #: Distance of the stop from the best price since entry, as a fraction (seed: 0.5 %).
    trail_pct: float = 0.005

    def __attrs_post_init__(self) -> None:
        if not 0 < self.trail_pct < 1:
            raise ValueError(f"trail_pct must be in (0, 1), got {self.trail_pct}")


class TrailingStop:
    """Closes a position when price retraces ``trail_pct`` from its best since entry."""

    name: ClassVar[str] = "trailing"
    config_class: ClassVar[type] = TrailingConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"ticks", "scan", "fold"})

    def __init__(self, config: TrailingConfig) -> None:
        self.pct = config.trail_pct
        self._best: dict[str, float] = {}
        # The open time of the position each best price belongs to: a position that closed
        # without forget() (its close filled after a later batch re-seeded the state) must not
        # hand its best price to the next position in the instrument.
        self._opened: dict[str, int] = {}

    def stop_price(self, instrument: str, side: Side) -> float | None:
        """The current stop level, or None when nothing is tracked."""
        best = self._best.get(instrument)
        if best is None:
            return None
        return best * (1 - self.pct) if side is Side.BUY else best * (1 + self.pct)

    def on_ticks(
        self, position: Position, batch: TickBatch, ctx: RiskContext
    ) -> ExitDecision | None:
        """The first trade of ``batch`` at or through the trailing stop, if any."""
        prices = batch.price
        n = len(prices)  # ``len(batch)``, without the Python-level call
        if position.is_flat or n == 0:
            return None
        key = position.instrument
        if self._opened.get(key) != position.opened_ts_ns:
            self._opened[key] = position.opened_ts_ns
            self._best.pop(key, None)
        got = self._first(position, prices, True)
        if got is not None:
            i, best = got
            self._best[key] = best
            if i < 0:
                return None
            return ExitDecision(
                monitor=self.name,
                reason=f"trailing stop {self.pct:.2%} from best {best:.2f}",
                ts_ns=int(batch.ts_ns[i]),
                price=float(prices[i]),
            )
        if n <= FEW:
            found = self._first_few(position, prices.tolist())
            if found is not None:
                i, best = found
                if i < 0:
                    self._best[key] = best
                    return None
                self._best[key] = best
                return ExitDecision(
                    monitor=self.name,
                    reason=f"trailing stop {self.pct:.2%} from best {best:.2f}",
                    ts_ns=int(batch.ts_ns[i]),
                    price=float(prices[i]),
                )
        running, hit = self._running(position, prices)
        idx = np.flatnonzero(hit)
        if len(idx):
            i = int(idx[0])
            self._best[key] = float(running[i])
            return ExitDecision(
                monitor=self.name,
                reason=f"trailing stop {self.pct:.2%} from best {running[i]:.2f}",
                ts_ns=int(batch.ts_ns[i]),
                price=float(prices[i]),
            )
        self._best[key] = float(running[-1])
        return None

    def scan(self, position: Position, window: HoldWindow, ctx: RiskContext) -> int | None:
        """The close ahead whose trades first reach the stop (the running extremum over the
        window, seeded as :meth:`on_ticks` would seed it); the state is left alone."""
        if position.is_flat or len(window) == 0:
            return None
        prices = window.ticks.price[: window.seen]
        got = self._first(position, prices, True)
        if got is not None:
            return None if got[0] < 0 else window.row_of_trade(got[0])
        _, hit = self._running(position, prices)
        return window.first_row(hit)

    def fold(self, position: Position, walked: TickBatch, ctx: RiskContext) -> None:
        """After a walk its scan cleared: the best price :meth:`on_ticks` keeps when no
        trade reaches the stop (the running extremum's last value, the same floats), without
        the stop's comparisons."""
        if position.is_flat or len(walked) == 0:
            return
        key = position.instrument
        if self._opened.get(key) != position.opened_ts_ns:
            self._opened[key] = position.opened_ts_ns
            self._best.pop(key, None)
        prices = walked.price
        got = self._first(position, prices, False)
        if got is not None:
            self._best[key] = got[1]
            return
        if len(prices) <= FEW:
            found = self._first_few(position, prices.tolist())
            if found is not None:
                self._best[key] = found[1]
                return
        best = (
            self._best.get(key, float(position.avg_price))
            if self._opened.get(key) == position.opened_ts_ns
            else float(position.avg_price)
        )
        if position.quantity > 0:
            running = np.maximum.accumulate(np.maximum(prices, best))
        else:
            running = np.minimum.accumulate(np.minimum(prices, best))
        self._best[key] = float(running[-1])

    def _first(
        self, position: Position, prices: npt.NDArray[np.float64], check: bool
    ) -> tuple[int, float] | None:
        """The compiled loop (``_kernel.c``): ``(index of the first trade at or through the
        stop, or -1 for none or not ``check``, the best price there or at the last trade)``,
        the numpy path's values (:meth:`_running`) in one pass whatever the number of trades;
        None when the kernel is not built or cannot read the prices."""
        if _kernel is None:
            return None
        key = position.instrument
        best = (
            self._best.get(key, float(position.avg_price))
            if self._opened.get(key) == position.opened_ts_ns
            else float(position.avg_price)
        )
        long = position.quantity > 0
        return _kernel.first(prices, best, long, 1 - self.pct if long else 1 + self.pct, check)

    def _first_few(self, position: Position, prices: list[float]) -> tuple[int, float] | None:
        """:meth:`_running` and the first hit over a few prices as a Python loop: ``(index
        of the first trade at or through the stop, the best price there)``, ``(-1, the best
        price at the last trade)`` when none is, or None when a price is NaN (numpy's
        maximum propagates it, Python's comparisons do not: the numpy path decides). The
        same float maxima, products and comparisons as the arrays."""
        key = position.instrument
        best = (
            self._best.get(key, float(position.avg_price))
            if self._opened.get(key) == position.opened_ts_ns
            else float(position.avg_price)
        )
        if best != best:
            return None
        if position.quantity > 0:
            k = 1 - self.pct
            for i, p in enumerate(prices):
                if p > best:
                    best = p
                elif p != p:
                    return None
                if p <= best * k:
                    return i, best
            return -1, best
        k = 1 + self.pct
        for i, p in enumerate(prices):
            if p < best:
                best = p
            elif p != p:
                return None
            if p >= best * k:
                return i, best
        return -1, best

    def _running(
        self, position: Position, prices: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """The best price at each of ``prices`` since entry, and where the stop is hit."""
        key = position.instrument
        best = (
            self._best.get(key, float(position.avg_price))
            if self._opened.get(key) == position.opened_ts_ns
            else float(position.avg_price)
        )
        if position.quantity > 0:
            running = np.maximum.accumulate(np.maximum(prices, best))
            return running, prices <= running * (1 - self.pct)
        running = np.minimum.accumulate(np.minimum(prices, best))
        return running, prices >= running * (1 + self.pct)

    def on_candle(
        self, position: Position, candle: Candle, values: Mapping[str, float], ctx: RiskContext
    ) -> ExitDecision | None:
        """The trailing stop works on trades only."""
        return None

    def forget(self, instrument: str) -> None:
        """Drop the best price of a closed position."""
        self._best.pop(instrument, None)
        self._opened.pop(instrument, None)


@hookimpl
def tradewind_register_exits(registry):  # type: ignore[no-untyped-def]
    """Register the trailing stop."""
    registry.add(TrailingStop)
