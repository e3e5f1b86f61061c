"""The compiled kernel against the pure-Python code it replaced, bit for bit.

``Reference`` is the analyzer's per-candle code as it was before the kernel
(:func:`candle_shape` and the classes of :mod:`rolling`). The kernel must give the same bits on
every output after every candle: per candle (``on_candle``, paper and live) and over blocks
(``on_block``), on the recorded sample, on synthetic ticks calibrated on it at ~80 and ~1,600
trades a minute, and on random paths with flat stretches (the collapse recomputations).
"""

from __future__ import annotations

import csv
import math
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from tradewind.blocks import BlockRow, BlockTable, TableRow
from tradewind.market import synth
from tradewind.market.candles import aggregate
from tradewind.model import Candle, TickBatch

from micro_data import MIN, btcusdt, candles_from_closes, random_closes
from tradewind_analyzer_microstructure import MicrostructureAnalyzer, MicrostructureConfig
from tradewind_analyzer_microstructure.plugin import VALUE_KEYS
from tradewind_analyzer_microstructure.rolling import (
    Lag1Autocorrelation,
    RollingMoments,
    RollingSum,
)
from tradewind_analyzer_microstructure.shape import CandleShape, candle_shape

NAN = math.nan
SAMPLE = Path(__file__).parent / "resources" / "tardis_binance-futures_BTCUSDT_trades.csv"
INSTRUMENT = "binance:BTCUSDT"


class Reference:
    """MicrostructureAnalyzer before the compiled kernel (pure Python)."""

    def __init__(self, config: MicrostructureConfig) -> None:
        self.config = config
        self._tf = config.timeframe_ns
        self._volumes = RollingSum(config.volume_period)
        self._closes = RollingMoments(config.zscore_period)
        self._autocorr = Lag1Autocorrelation(config.autocorr_window)
        self._last_close: float | None = None
        self._shape: CandleShape | None = None
        self._spike = NAN
        self._volume_mean = NAN
        self._zscore = NAN

    def on_candle(self, candle: Candle) -> None:
        if candle.timeframe_ns != self._tf:
            return
        cfg = self.config
        self._shape = candle_shape(
            candle,
            wick_weight=cfg.bounce_wick_weight,
            body_ratio=cfg.rejection_body_ratio,
            close_min=cfg.rejection_close_min,
        )
        mean = self._volumes.mean
        self._volume_mean = mean
        self._spike = candle.volume / mean if mean > 0.0 else NAN
        self._volumes.push(candle.volume)
        self._closes.push(candle.close)
        if self._closes.full:
            std = self._closes.std
            self._zscore = self._closes.deviation(candle.close) / std if std > 0.0 else 0.0
        if self._last_close is not None and self._last_close > 0.0 and candle.close > 0.0:
            self._autocorr.push(math.log(candle.close / self._last_close))
        self._last_close = candle.close

    def values(self) -> dict[str, float]:
        s = self._shape
        full = self._closes.full
        return {
            "lower_wick": s.lower_wick if s else NAN,
            "upper_wick": s.upper_wick if s else NAN,
            "body": s.body if s else NAN,
            "close_position": s.close_position if s else NAN,
            "bounce_long": s.bounce_long if s else NAN,
            "bounce_short": s.bounce_short if s else NAN,
            "rejection": s.rejection if s else NAN,
            "volume_spike": self._spike,
            "volume_mean": self._volume_mean,
            "zscore": self._zscore,
            "close_mean": self._closes.mean if full else NAN,
            "close_std": self._closes.std if full else NAN,
            "autocorr": self._autocorr.value,
        }


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def assert_same(expected: dict[str, float], actual: dict[str, float], where: object) -> None:
    assert tuple(actual) == VALUE_KEYS
    # NaN is the object math.nan, as the Python path reported it: lists of outputs compare
    # equal only so ([nan] == [nan] holds for one object, not for two NaN floats).
    assert all(v is math.nan for v in actual.values() if v != v), where
    for k in VALUE_KEYS:
        assert bits(expected[k]) == bits(actual[k]), (where, k, expected[k], actual[k])


def sample_ticks() -> TickBatch:
    ts, price, size, side, ids = [], [], [], [], []
    with SAMPLE.open(newline="") as fh:
        for row in csv.DictReader(fh):
            ts.append(int(row["timestamp"]) * 1_000)
            price.append(float(row["price"]))
            size.append(float(row["amount"]))
            side.append(1 if row["side"] == "buy" else -1)
            ids.append(int(row["id"]))
    return TickBatch.from_arrays(INSTRUMENT, ts, price, size, side, ids)


def synthetic_candles(n_ticks: int, speedup: float, tf: int) -> list[Candle]:
    """Candles of synthetic ticks calibrated on the recorded sample (as bench/_synth.py)."""
    sample = sample_ticks()
    params = synth.calibrate(sample)
    per_hour = len(sample) / ((sample.last_ts - sample.first_ts) / synth.NS_PER_HOUR)
    out = synth.generate(
        params, hours=1.1 * n_ticks / per_hour + 1.0, seed=20200222, instrument=INSTRUMENT
    )
    out = out.slice(0, min(n_ticks, len(out)))
    if speedup != 1.0:
        t0 = out.first_ts
        ts = t0 + ((out.ts_ns - t0) / speedup).astype(np.int64)
        out = TickBatch.from_arrays(INSTRUMENT, ts, out.price, out.size, out.side, out.trade_id)
    return aggregate(out, tf).to_candles()


def mixed(candles: Sequence[Candle]) -> list[Candle]:
    """1m candles with 5m and 15m candles of the same tape in close order (ignored ones)."""
    out: list[Candle] = []
    for c in candles:
        out.append(c)
        for k in (5, 15):
            if (c.open_ts_ns + c.timeframe_ns) % (k * MIN) == 0:
                out.append(attrs.evolve(c, timeframe_ns=k * MIN, open_ts_ns=c.open_ts_ns))
    return out


def walk(n: int, seed: int) -> list[Candle]:
    closes = random_closes(n, seed)
    volumes = np.random.default_rng(seed + 1).lognormal(1.0, 1.0, n)
    volumes[n // 3 : n // 3 + 40] = 2.5  # a constant volume window
    return candles_from_closes(closes, volumes)


DATA: dict[str, Any] = {
    "sample-1m": lambda: aggregate(sample_ticks(), MIN).to_candles(),
    "walk-flat-stretches": lambda: walk(6_000, seed=4),
    "synth-80-per-min": lambda: synthetic_candles(200_000, 1.0, MIN),
    "synth-1600-per-min": lambda: synthetic_candles(800_000, 20.0, MIN),
    "walk-with-zero-closes": lambda: [
        attrs.evolve(c, close=0.0, low=0.0) if i % 97 == 50 else c
        for i, c in enumerate(walk(1_500, seed=6))
    ],
}
CONFIGS = {
    "default": MicrostructureConfig(),
    "other": MicrostructureConfig(
        volume_period=3,
        zscore_period=2,
        autocorr_window=3,
        bounce_wick_weight=0.3,
        rejection_body_ratio=0.5,
        rejection_close_min=0.55,
    ),
}


@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_per_candle_kernel_is_the_python_bits(data: str, config: str) -> None:
    cfg = CONFIGS[config]
    candles = mixed(DATA[data]())
    assert len(candles) >= 100
    ref = Reference(cfg)
    analyzer = MicrostructureAnalyzer(config=cfg, instrument=btcusdt())
    assert_same(ref.values(), dict(analyzer.values()), "before any candle")
    rejections = defined_autocorr = 0
    for i, c in enumerate(candles):
        ref.on_candle(c)
        analyzer.on_candle(c)
        got = dict(analyzer.values())
        assert_same(ref.values(), got, (data, config, i))
        rejections += got["rejection"] != 0.0 and not math.isnan(got["rejection"])
        defined_autocorr += not math.isnan(got["autocorr"])
    assert defined_autocorr > len(candles) // 2
    if data != "sample-1m":
        assert rejections > 0


@pytest.mark.parametrize("block", [1, 13, 1_000_000])
def test_block_kernel_is_the_python_bits(block: int) -> None:
    cfg = CONFIGS["default"]
    candles = mixed(DATA["walk-flat-stretches"]())
    rows: list[BlockRow] = []
    for c in candles:
        if rows and rows[-1].close_ns == c.close_ts_ns:
            rows[-1] = attrs.evolve(rows[-1], candles=(*rows[-1].candles, c))
        else:
            rows.append(BlockRow(close_ns=c.close_ts_ns, tick_end=0, candles=(c,)))
    ref = Reference(cfg)
    analyzer = MicrostructureAnalyzer(config=cfg, instrument=btcusdt())
    empty = TickBatch.from_arrays(INSTRUMENT, [], [], [], [], [])
    seen = 0
    for start in range(0, len(rows), block):
        piece = rows[start : start + block]
        it = analyzer.on_block(empty, piece)
        assert isinstance(it, BlockTable)
        for row in piece:
            for c in row.candles:
                ref.on_candle(c)
            got = next(it)
            assert isinstance(got, TableRow)
            want = ref.values()
            assert_same(want, dict(got), (block, seen))
            # The table's arrays (what the gates judge) hold the same bits as the row.
            for key, column in it.arrays().items():
                assert math.isnan(want[key]) == math.isnan(column[seen - start])
                if not math.isnan(want[key]):
                    assert column[seen - start].tobytes() == np.float64(want[key]).tobytes()
            seen += 1
        assert next(it, None) is None
    assert seen == len(rows)


@pytest.mark.parametrize(
    "data", ["walk-flat-stretches", "synth-80-per-min", "walk-with-zero-closes"]
)
def test_per_candle_recomputes_are_the_kernel_s_unless_it_refuses(
    data: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recompute that falls due at a candle is done by the compiled step (as the block run
    does it), not handed back to Python, unless the kernel refuses (a non-finite value): the
    bits are the reference's either way (test_per_candle_kernel_is_the_python_bits)."""
    from tradewind_analyzer_microstructure.kernel import MicroKernel

    handed: list[int] = []
    recompute = MicroKernel._recompute

    def counted(self: MicroKernel) -> None:
        handed.append(1)
        recompute(self)

    monkeypatch.setattr(MicroKernel, "_recompute", counted)
    cfg = CONFIGS["other"]  # short windows: a recompute due every few candles
    candles = mixed(DATA[data]())
    ref = Reference(cfg)
    analyzer = MicrostructureAnalyzer(config=cfg, instrument=btcusdt())
    for i, c in enumerate(candles):
        ref.on_candle(c)
        analyzer.on_candle(c)
        assert_same(ref.values(), dict(analyzer.values()), (data, i))
    assert len(candles) > 100
    if data == "walk-with-zero-closes":
        assert len(handed) < len(candles) // 10
    else:
        assert handed == []
