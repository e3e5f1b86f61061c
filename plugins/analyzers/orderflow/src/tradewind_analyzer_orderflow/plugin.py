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
from tradewind_analyzer_orderflow.cascade import cascade, reversal_long, reversal_short
from tradewind_analyzer_orderflow.config import OrderFlowConfig
from tradewind_analyzer_orderflow.cvd import CumulativeDelta
from tradewind_analyzer_orderflow.imbalance import average_size, delta, imbalance

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
        """Fold one closed candle in; candles of timeframes not configured are ignored."""
        slot = self._slot.get(candle.timeframe_ns)
        if slot is None:
            return
        cfg = self.config
        buy, sell = candle.buy_volume, candle.sell_volume
        keys = self._keys[slot]
        values = self._values
        imb = imbalance(buy, sell, cfg.max_imbalance)
        d = delta(buy, sell)
        self._imbalances[slot] = imb
        values[keys.imbalance] = imb
        values[keys.delta] = d
        values[keys.avg_buy] = average_size(buy, candle.buy_trades)
        values[keys.avg_sell] = average_size(sell, candle.sell_trades)
        if slot == 0:
            values["cvd"] = self._cvd.update(candle.open_ts_ns, d)
        imbs = self._imbalances
        values["cascade"] = cascade(imbs, cfg.cascade_long_min, cfg.cascade_short_max)
        values["cascade_reversal_long"] = reversal_long(imbs, cfg.reversal_long_max)
        values["cascade_reversal_short"] = reversal_short(imbs, cfg.reversal_short_min)

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
