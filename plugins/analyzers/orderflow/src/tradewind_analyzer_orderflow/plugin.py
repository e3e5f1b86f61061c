"""The order-flow analyzer and its registration hook.

Entry point ``tradewind.analyzers: orderflow``. See docs/analyzers/orderflow.md for every
output, its formula and its cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

from tradewind.blocks import BlockRow, BlockTable
from tradewind.hookspecs import hookimpl
from tradewind.model import Candle, Instrument, TickBatch
from tradewind.registry import KindRegistry
from tradewind.timeframes import format_timeframe, parse_timeframe

from tradewind_analyzer_orderflow.block import block_table
from tradewind_analyzer_orderflow.config import OrderFlowConfig
from tradewind_analyzer_orderflow.cvd import CumulativeDelta

NAN = math.nan


class _Keys:
    """The value keys of one timeframe, built once so an update formats no strings."""

    __slots__ = ("avg_buy", "avg_sell", "delta", "imbalance")

    def __init__(self, label: str) -> None:
        self.imbalance = f"imbalance_{label}"
        self.delta = f"delta_{label}"
        self.avg_buy = f"avg_buy_size_{label}"
        self.avg_sell = f"avg_sell_size_{label}"


class OrderFlowAnalyzer:
    """Aggressor-side order flow per timeframe and the multi-timeframe cascade.

    Per configured timeframe ``<tf>`` (labelled as :func:`tradewind.timeframes.format_timeframe`
    prints it: ``1m``, ``5m``, ``15m``), from the last closed candle of that timeframe:
    ``imbalance_<tf>``, ``delta_<tf>``, ``avg_buy_size_<tf>``, ``avg_sell_size_<tf>``.
    Across timeframes: ``cvd`` (from the smallest timeframe), ``cascade`` (+1 long, -1 short,
    0 none), ``cascade_reversal_long`` and ``cascade_reversal_short`` (1.0 / 0.0). Everything
    is NaN until its inputs have seen a candle. O(number of timeframes) per candle.
    """

    name: ClassVar[str] = "orderflow"
    config_class: ClassVar[type] = OrderFlowConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"candles", "multi-timeframe", "block"})

    @classmethod
    def outputs(cls, config: OrderFlowConfig) -> frozenset[str]:
        """Every key :meth:`values` reports for ``config``'s timeframes."""
        keys = {"cvd", "cascade", "cascade_reversal_long", "cascade_reversal_short"}
        for tf in config.timeframes:
            k = _Keys(format_timeframe(parse_timeframe(tf)))
            keys.update((k.imbalance, k.delta, k.avg_buy, k.avg_sell))
        return frozenset(keys)

    def __init__(self, config: OrderFlowConfig, instrument: Instrument) -> None:
        self.config = config
        self.instrument = instrument
        tfs = sorted(parse_timeframe(t) for t in config.timeframes)
        #: Timeframes in nanoseconds, fastest first (the cascade's order).
        self.timeframes_ns: tuple[int, ...] = tuple(tfs)
        self._slot = {ns: i for i, ns in enumerate(tfs)}
        self._keys = [_Keys(format_timeframe(ns)) for ns in tfs]
        self._imbalances = [NAN] * len(tfs)
        self._cvd = CumulativeDelta(
            parse_timeframe(config.cvd_reset) if config.cvd_reset is not None else None
        )
        self._values: dict[str, float] = {}
        for keys in self._keys:
            for key in (keys.imbalance, keys.delta, keys.avg_buy, keys.avg_sell):
                self._values[key] = NAN
        for key in ("cvd", "cascade", "cascade_reversal_long", "cascade_reversal_short"):
            self._values[key] = NAN

    def on_candle(self, candle: Candle) -> None:
        """Fold one closed candle in; candles of timeframes not configured are ignored.

        The formulas of :mod:`~tradewind_analyzer_orderflow.imbalance` and
        :mod:`~tradewind_analyzer_orderflow.cascade` written out here (the same comparisons
        and divisions, so the same floats): a candle of the decision's path made seven calls
        of them, and the three cascade outputs each scanned the imbalances again."""
        slot = self._slot.get(candle.timeframe_ns)
        if slot is None:
            return
        cfg = self.config
        buy, sell = candle.buy_volume, candle.sell_volume
        keys = self._keys[slot]
        values = self._values
        cap = cfg.max_imbalance
        if sell > 0.0:  # imbalance(buy, sell, cap)
            imb = buy / sell
            if not imb < cap:
                imb = cap
        else:
            imb = cap if buy > 0.0 else 1.0
        d = buy - sell  # delta(buy, sell)
        imbs = self._imbalances
        imbs[slot] = imb
        values[keys.imbalance] = imb
        values[keys.delta] = d
        n = candle.buy_trades  # average_size(buy, n), then of the sells
        values[keys.avg_buy] = buy / n if n > 0 else NAN
        n = candle.sell_trades
        values[keys.avg_sell] = sell / n if n > 0 else NAN
        if slot == 0:
            values["cvd"] = self._cvd.update(candle.open_ts_ns, d)
        # One pass for cascade(), reversal_long() and reversal_short(): NaN while any
        # timeframe has none (or there is none), else each side's strict order of the
        # imbalances, fastest first.
        fastest = imbs[0]
        falling = rising = fastest == fastest
        prev = fastest
        for i in range(1, len(imbs)):
            v = imbs[i]
            if v != v:
                falling = rising = False
                fastest = v
                break
            if not prev > v:
                falling = False
            if not prev < v:
                rising = False
            prev = v
        if fastest != fastest:
            values["cascade"] = values["cascade_reversal_long"] = NAN
            values["cascade_reversal_short"] = NAN
            return
        if fastest > cfg.cascade_long_min and falling:
            values["cascade"] = 1.0
        elif fastest < cfg.cascade_short_max and rising:
            values["cascade"] = -1.0
        else:
            values["cascade"] = 0.0
        values["cascade_reversal_long"] = 1.0 if fastest < cfg.reversal_long_max and rising else 0.0
        values["cascade_reversal_short"] = (
            1.0 if fastest > cfg.reversal_short_min and falling else 0.0
        )

    def values(self) -> Mapping[str, float]:
        """A snapshot of every output (the same keys from construction on; NaN = not yet)."""
        return dict(self._values)

    # -- blocks (backtests) ---------------------------------------------------------------
    def on_block(self, ticks: TickBatch, rows: Sequence[BlockRow]) -> BlockTable:
        """The outputs at every row of a block, as a table computed ahead (see
        :mod:`tradewind.blocks`): :meth:`on_candle`'s formulas vectorised over the block's
        candles (:mod:`tradewind_analyzer_orderflow.block`, the same bits), one column per
        output, so the engine's gates can read a whole block at once."""
        return block_table(self, rows)


@hookimpl
def tradewind_register_analyzers(registry: KindRegistry) -> None:
    """Register :class:`OrderFlowAnalyzer`."""
    registry.add(OrderFlowAnalyzer)
