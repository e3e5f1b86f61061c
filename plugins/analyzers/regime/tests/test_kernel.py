"""The compiled kernel against the pure-Python indicator classes, bit for bit.

``Reference`` is the analyzer's per-candle code as it was before the kernel (the Python classes
of this package, one call each per candle). The kernel must give the same bits on every output
after every candle: per candle (``on_candle``, paper and live) and over blocks of any size
(``on_block``), on the recorded sample, on seeded random walks long enough for many exact
recomputations of the Hurst and mean-reversion sums, on synthetic ticks calibrated on the
sample at ~80 and ~1,600 trades a minute, and on flat stretches (zero true range, a flat Hurst
window, zero RSI movement).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pytest
from regime_data import INSTRUMENT, random_walk_candles, sample_candles, sample_ticks
from tradewind.blocks import BlockRow, BlockTable
from tradewind.market import synth
from tradewind.market.candles import aggregate
from tradewind.model import Candle, TickBatch
from tradewind.testing import default_instrument
from tradewind.timeframes import parse_timeframe

from tradewind_analyzer_regime import RegimeAnalyzer, RegimeConfig
from tradewind_analyzer_regime.adx import Adx
from tradewind_analyzer_regime.ema import Ema
from tradewind_analyzer_regime.hurst import RollingHurst
from tradewind_analyzer_regime.mean_reversion import RollingMeanReversion
from tradewind_analyzer_regime.plugin import KEYS
from tradewind_analyzer_regime.rsi import Rsi
from tradewind_analyzer_regime.structure import Structure
from tradewind_analyzer_regime.true_range import Atr
from tradewind_analyzer_regime.verdict import alignment, regime


class Reference:
    """RegimeAnalyzer.on_candle before the compiled kernel (pure Python)."""

    def __init__(self, config: RegimeConfig) -> None:
        self.config = config
        self._adx = Adx(config.adx_period)
        self._atr = Atr(config.atr_period)
        self._rsi = Rsi(config.rsi_period)
        self._ema_fast = Ema(config.ema_fast)
        self._ema_slow = Ema(config.ema_slow)
        self._hurst = RollingHurst(config.hurst_window, config.hurst_min_lag, config.hurst_max_lag)
        self._mr = RollingMeanReversion(config.mean_reversion_window, config.mean_reversion_horizon)
        self._structure = Structure(config.structure_candles)
        self.values: dict[str, float] = dict.fromkeys(KEYS, math.nan)

    def on_candle(self, high: float, low: float, close: float) -> None:
        adx = self._adx.update(high, low, close)
        atr = self._atr.update(high, low, close)
        rsi = self._rsi.update(close)
        fast = self._ema_fast.update(close)
        slow = self._ema_slow.update(close)
        structure = self._structure.update(high, low)
        if close > 0.0:
            log_close = math.log(close)
            self._hurst.push(log_close)
            self._mr.push(log_close)
        hurst = self._hurst.value
        mr = self._mr.value
        atr_pct = 100.0 * atr / close if close > 0.0 else math.nan
        aligned = alignment(close, fast, slow)
        v = self.values
        v["adx"] = adx
        v["plus_di"] = self._adx.plus_di
        v["minus_di"] = self._adx.minus_di
        v["atr"] = atr
        v["atr_pct"] = atr_pct
        v["ema_fast"] = fast
        v["ema_slow"] = slow
        v["ema_alignment"] = aligned
        v["rsi"] = rsi
        v["hurst"] = hurst
        v["mean_reversion"] = mr
        v["structure"] = structure
        v["regime"] = regime(
            self.config,
            adx=adx,
            hurst=hurst,
            mean_reversion=mr,
            ema_alignment=aligned,
            atr_pct=atr_pct,
            structure=structure,
        )


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def assert_same(expected: dict[str, float], actual: dict[str, float], where: object) -> None:
    assert tuple(actual) == KEYS
    # NaN is the object math.nan, as the Python path reported it: lists of outputs compare
    # equal only so ([nan] == [nan] holds for one object, not for two NaN floats).
    assert all(v is math.nan for v in actual.values() if v != v), where
    for k in KEYS:
        assert bits(expected[k]) == bits(actual[k]), (where, k, expected[k], actual[k])


def reference_rows(config: RegimeConfig, candles: Sequence[Candle]) -> list[dict[str, float]]:
    ref = Reference(config)
    out = []
    for c in candles:
        ref.on_candle(c.high, c.low, c.close)
        out.append(dict(ref.values))
    return out


def synthetic_candles(n_ticks: int, speedup: float, timeframe: str) -> list[Candle]:
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
    return aggregate(out, parse_timeframe(timeframe)).to_candles()


def flat_candles(n: int) -> list[Candle]:
    """A random walk with long flat stretches (no range, no change) in it."""
    walk = random_walk_candles(n, seed=7, timeframe="1m")
    out = []
    for i, c in enumerate(walk):
        if (i // 150) % 2 == 1:  # 150 candles flat at the last close
            prev = out[-1].close
            c = Candle(**{**_asdict(c), "open": prev, "high": prev, "low": prev, "close": prev})
        out.append(c)
    return out


DATA = {
    "sample-1m": lambda: sample_candles("1m"),
    "walk-15m": lambda: random_walk_candles(3_000, seed=11),
    "walk-1m-coarse": lambda: random_walk_candles(2_500, seed=3, timeframe="1m"),
    "synth-80-per-min-1m": lambda: synthetic_candles(200_000, 1.0, "1m"),
    "synth-1600-per-min-1m": lambda: synthetic_candles(800_000, 20.0, "1m"),
    "walk-with-zero-closes": lambda: zero_closes(
        random_walk_candles(1_500, seed=8, timeframe="1m")
    ),
}
CONFIGS = {
    "default": RegimeConfig(timeframe="1m"),
    "short-windows": RegimeConfig(
        timeframe="1m",
        adx_period=5,
        atr_period=3,
        rsi_period=2,
        ema_fast=3,
        ema_slow=7,
        hurst_window=16,
        hurst_min_lag=2,
        hurst_max_lag=8,
        mean_reversion_window=9,
        mean_reversion_horizon=3,
        structure_candles=2,
        adx_trending=15.0,
        adx_ranging=10.0,
        hurst_min=0.3,
        mean_reversion_max=0.9,
        min_atr_pct=0.0,
    ),
}


def zero_closes(candles: list[Candle]) -> list[Candle]:
    """Every 97th candle closes (and lows) at 0.0: no log close is pushed, ATR % is NaN."""
    return [
        attrs.evolve(c, close=0.0, low=0.0) if i % 97 == 50 else c for i, c in enumerate(candles)
    ]


def retimed(candles: Sequence[Candle], timeframe: str) -> list[Candle]:
    tf = parse_timeframe(timeframe)
    return [
        c if c.timeframe_ns == tf else Candle(**{**_asdict(c), "timeframe_ns": tf}) for c in candles
    ]


def _asdict(c: Candle) -> dict[str, Any]:
    return attrs.asdict(c, recurse=False)


@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_per_candle_kernel_is_the_python_bits(data: str, config: str) -> None:
    cfg = CONFIGS[config]
    candles = retimed(DATA[data](), cfg.timeframe)
    assert len(candles) >= 100
    expected = reference_rows(cfg, candles)
    analyzer = RegimeAnalyzer(config=cfg, instrument=default_instrument())
    defined = 0
    for i, (c, want) in enumerate(zip(candles, expected, strict=True)):
        analyzer.on_candle(c)
        got = dict(analyzer.values())
        assert_same(want, got, (data, config, i))
        defined += not math.isnan(got["regime"])
    if len(candles) > 2 * cfg.hurst_window + 10:
        assert defined > 0  # the verdict was reached, not NaN all along


@pytest.mark.parametrize("data", ["walk-1m-coarse", "synth-80-per-min-1m", "synth-1600-per-min-1m"])
@pytest.mark.parametrize("block", [1, 7, 100, 1_000_000])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_block_kernel_is_the_python_bits(data: str, block: int, config: str) -> None:
    """``on_block`` over blocks of ``block`` decision closes (with candles of another
    timeframe in the rows, which the analyzer must skip) gives the reference's bits at every
    row, and leaves the analyzer where the per-candle path would."""
    cfg = CONFIGS[config]
    candles = retimed(DATA[data](), "1m")
    expected = reference_rows(cfg, candles)
    five = parse_timeframe("5m")
    rows = []
    for c in candles:
        extra: tuple[Candle, ...] = ()
        if (c.open_ts_ns + c.timeframe_ns) % five == 0:
            extra = (Candle(**{**_asdict(c), "timeframe_ns": five}),)
        rows.append(BlockRow(close_ns=c.close_ts_ns, tick_end=0, candles=(c, *extra)))
    empty = TickBatch.from_arrays(INSTRUMENT, [], [], [], [], [])
    analyzer = RegimeAnalyzer(config=cfg, instrument=default_instrument())
    seen = 0
    for start in range(0, len(rows), block):
        piece = rows[start : start + block]
        table = analyzer.on_block(empty, piece)
        assert isinstance(table, BlockTable)  # the gates can read it ahead, as arrays
        arrays = table.arrays()
        got = list(_each(table))
        assert len(got) == len(piece)
        for j, values in enumerate(got):
            assert_same(expected[start + j], values, (data, config, block, start + j))
            for key, column in arrays.items():  # the arrays hold the rows' bits
                assert np.float64(values[key]).tobytes() == column[j].tobytes() or (
                    math.isnan(values[key]) and math.isnan(column[j])
                ), key
            seen += 1
    assert seen == len(candles)
    # after the blocks, the per-candle path carries on from the same state
    tail = random_walk_candles(300, seed=5, timeframe="1m")
    ref = Reference(cfg)
    for c in candles:
        ref.on_candle(c.high, c.low, c.close)
    for i, c in enumerate(tail):
        ref.on_candle(c.high, c.low, c.close)
        analyzer.on_candle(c)
        assert_same(ref.values, dict(analyzer.values()), ("tail", i))


def _each(it: Iterable[Mapping[str, float]]) -> Iterator[dict[str, float]]:
    """Copy each row as it is yielded (a row is valid until the next one)."""
    for v in it:
        yield dict(v)


def test_rows_without_a_candle_of_the_timeframe_repeat_the_last_values() -> None:
    cfg = RegimeConfig(timeframe="5m")
    candles = random_walk_candles(400, seed=9, timeframe="5m")
    one = parse_timeframe("1m")
    rows = []
    for c in candles:
        for k in range(4):  # four 1m closes inside each 5m candle, then the 5m close
            m = Candle(**{**_asdict(c), "timeframe_ns": one, "open_ts_ns": c.open_ts_ns + k * one})
            rows.append(BlockRow(close_ns=m.close_ts_ns, tick_end=0, candles=(m,)))
        rows.append(BlockRow(close_ns=c.close_ts_ns, tick_end=0, candles=(c,)))
    expected = reference_rows(cfg, candles)
    empty = TickBatch.from_arrays(INSTRUMENT, [], [], [], [], [])
    analyzer = RegimeAnalyzer(config=cfg, instrument=default_instrument())
    got = list(_each(analyzer.on_block(empty, rows)))
    nan_row = dict.fromkeys(KEYS, math.nan)
    for i, values in enumerate(got):
        k = i // 5
        want = expected[k] if i % 5 == 4 else (expected[k - 1] if k else nan_row)
        assert_same(want, values, i)


def test_flat_stretches_are_the_python_bits() -> None:
    cfg = CONFIGS["default"]
    candles = flat_candles(1_200)
    expected = reference_rows(cfg, candles)
    analyzer = RegimeAnalyzer(config=cfg, instrument=default_instrument())
    nan_hurst = 0
    for i, c in enumerate(candles):
        analyzer.on_candle(c)
        got = dict(analyzer.values())
        assert_same(expected[i], got, i)
        nan_hurst += i > 100 and math.isnan(got["hurst"])
    assert nan_hurst > 0  # a flat window was met


class _MatmulHurst(RollingHurst):
    """RollingHurst with its recomputation as written before ``np.vdot``: ``d @ d``."""

    def _recompute(self) -> None:
        p = np.array(self.ordered())
        for i, lag in enumerate(self.lags):
            d = p[lag:] - p[:-lag]
            self._sq[i] = float(d @ d)
        self._since_exact = 0


class _MatmulMeanReversion(RollingMeanReversion):
    """RollingMeanReversion with its recomputation as written before ``np.vdot``."""

    def _recompute(self) -> None:
        xs = np.array(self._xs)
        ys = np.array(self._ys)
        self._anchor = float(xs.mean())
        xa = xs - self._anchor
        self._sx = float(xa.sum())
        self._sy = float(ys.sum())
        self._sxx = float(xa @ xa)
        self._sxy = float(xa @ ys)
        self._since_exact = 0


@pytest.mark.parametrize("data", ["sample-1m", "walk-15m", "walk-1m-coarse"])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_the_recomputations_dot_products_are_matmuls__packed(data: str, config: str) -> None:
    # The Hurst and mean-reversion recomputations (the classes and the kernel's) take their
    # dot products with np.vdot instead of ``@``: every sum and value after every close, on
    # windows recomputed many times, as the ``@`` versions give them.
    cfg = CONFIGS[config]
    new_h = RollingHurst(cfg.hurst_window, cfg.hurst_min_lag, cfg.hurst_max_lag)
    old_h = _MatmulHurst(cfg.hurst_window, cfg.hurst_min_lag, cfg.hurst_max_lag)
    new_m = RollingMeanReversion(cfg.mean_reversion_window, cfg.mean_reversion_horizon)
    old_m = _MatmulMeanReversion(cfg.mean_reversion_window, cfg.mean_reversion_horizon)
    recomputed = 0
    for c in DATA[data]():
        x = math.log(c.close)
        new_h.push(x)
        old_h.push(x)
        new_m.push(x)
        old_m.push(x)
        recomputed += old_h._since_exact == 0 and old_h._count == old_h.window
        assert _packed(new_h._sq) == _packed(old_h._sq)
        assert _packed([new_h.value, new_m.value, new_m.slope]) == _packed(
            [old_h.value, old_m.value, old_m.slope]
        )
        assert _packed([new_m._sxx, new_m._sxy]) == _packed([old_m._sxx, old_m._sxy])
    assert recomputed > 0


def _packed(values: Iterable[float]) -> bytes:
    return b"".join(struct.pack("<d", v) for v in values)
