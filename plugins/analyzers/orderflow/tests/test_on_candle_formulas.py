"""``on_candle``'s formulas written out against the module functions it used to call: the same
outputs, bit for bit, over random candle streams (zeros, NaN volumes, no trades, ties)."""

import math
import random
import struct

import pytest
from orderflow_candles import T0, flow_candle
from tradewind.testing import default_instrument

from tradewind_analyzer_orderflow import OrderFlowAnalyzer, OrderFlowConfig
from tradewind_analyzer_orderflow.cascade import cascade, reversal_long, reversal_short
from tradewind_analyzer_orderflow.cvd import CumulativeDelta
from tradewind_analyzer_orderflow.imbalance import average_size, delta, imbalance

M = 60 * 10**9


class CalledFormulas:
    """The analyzer's ``on_candle`` as it was: each output through its module function."""

    def __init__(self, analyzer: OrderFlowAnalyzer) -> None:
        self.a = analyzer
        self.imbs = [math.nan] * len(analyzer.timeframes_ns)
        self.cvd = CumulativeDelta(analyzer._cvd.reset_ns)
        self.values = analyzer.values()

    def on_candle(self, candle):
        slot = self.a._slot.get(candle.timeframe_ns)
        if slot is None:
            return
        cfg, keys, values = self.a.config, self.a._keys[slot], self.values
        buy, sell = candle.buy_volume, candle.sell_volume
        imb = imbalance(buy, sell, cfg.max_imbalance)
        d = delta(buy, sell)
        self.imbs[slot] = imb
        values[keys.imbalance] = imb
        values[keys.delta] = d
        values[keys.avg_buy] = average_size(buy, candle.buy_trades)
        values[keys.avg_sell] = average_size(sell, candle.sell_trades)
        if slot == 0:
            values["cvd"] = self.cvd.update(candle.open_ts_ns, d)
        imbs = self.imbs
        values["cascade"] = cascade(imbs, cfg.cascade_long_min, cfg.cascade_short_max)
        values["cascade_reversal_long"] = reversal_long(imbs, cfg.reversal_long_max)
        values["cascade_reversal_short"] = reversal_short(imbs, cfg.reversal_short_min)


def bits(values):
    return {k: struct.pack("<d", v) for k, v in values.items()}


def volume(rng):
    pick = rng.random()
    if pick < 0.15:
        return 0.0
    if pick < 0.2:
        return math.nan
    if pick < 0.3:  # ratios on and around the thresholds and the cap
        return rng.choice((0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 1000.0))
    return rng.lognormvariate(0, 2)


@pytest.mark.parametrize("timeframes", [["1m"], ["1m", "5m"], ["1m", "5m", "15m"]])
@pytest.mark.parametrize("seed", range(4))
def test_on_candle_gives_the_called_formulas_bits(timeframes, seed):
    rng = random.Random(seed)
    options = {"timeframes": timeframes}
    if seed % 2:
        options.update(max_imbalance=5.0, cascade_long_min=1.5, reversal_short_min=1.5)
    if seed == 3:
        options["cvd_reset"] = "15m"
    analyzer = OrderFlowAnalyzer(config=OrderFlowConfig(**options), instrument=default_instrument())
    reference = CalledFormulas(analyzer)
    seen = set()
    for k in range(1500):
        start = T0 + k * M
        candles = [
            flow_candle("1m", start, volume(rng), volume(rng), rng.randint(0, 3), rng.randint(0, 3))
        ]
        for tf, minutes in (("5m", 5), ("15m", 15)):
            if (k + 1) % minutes == 0:
                candles.append(
                    flow_candle(
                        tf,
                        T0 + (k + 1 - minutes) * M,
                        volume(rng),
                        volume(rng),
                        rng.randint(0, 2),
                        rng.randint(0, 2),
                    )
                )
        for c in candles:
            analyzer.on_candle(c)
            reference.on_candle(c)
        assert bits(analyzer.values()) == bits(reference.values), (k, candles)
        got = analyzer.values()
        seen.add(tuple(got[k] for k in ("cascade", "cascade_reversal_long")))
        seen.add(("short", got["cascade_reversal_short"]))
    # The stream reached every branch: a long and a short cascade, none, both reversals.
    assert {(1.0, 0.0), (-1.0, 1.0), (0.0, 0.0), ("short", 1.0), ("short", 0.0)} <= seen
