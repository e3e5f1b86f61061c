"""Mean-reversion strength: the rolling regression equals polyfit; OU paths read strong."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradewind_analyzer_regime import RollingMeanReversion
from tradewind_analyzer_regime.mean_reversion import strength

WINDOW, HORIZON = 100, 10


def batch_strength(p: np.ndarray, window: int = WINDOW, horizon: int = HORIZON) -> np.ndarray:
    out = np.full(len(p), np.nan)
    x, y = p[:-1], np.diff(p)
    for end in range(window, len(p)):
        b = np.polyfit(x[end - window : end], y[end - window : end], 1)[0]
        out[end] = strength(float(b), horizon)
    return out


def streamed(p: np.ndarray, window: int = WINDOW, horizon: int = HORIZON) -> np.ndarray:
    mr = RollingMeanReversion(window, horizon)
    return np.array([mr.push(float(x)) for x in p])


def ou_path(n: int, theta: float, seed: int) -> np.ndarray:
    """Log prices pulled back to their mean by ``theta`` of the gap each candle."""
    rng = np.random.default_rng(seed)
    p = np.empty(n)
    p[0] = mu = math.log(50_000.0)
    for i in range(1, n):
        p[i] = p[i - 1] - theta * (p[i - 1] - mu) + rng.normal(0, 1e-3)
    return p


def test_strength_formula_and_its_clipping():
    assert strength(0.0, 10) == 0.0
    assert strength(0.05, 10) == 0.0  # explosive: no pull back
    assert strength(-1.0, 10) == 1.0
    assert strength(-1.7, 10) == 1.0  # overshoot: gone within a candle
    assert strength(-0.5, 1) == 0.5
    assert strength(-0.1, 10) == pytest.approx(1 - 0.9**10, abs=1e-15)


def test_streaming_equals_polyfit_over_5k_updates():
    p = ou_path(5_000, 0.05, seed=4)
    ours, theirs = streamed(p), batch_strength(p)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.nanmax(np.abs(ours - theirs)) < 1e-9


def test_nan_until_window_plus_one_prices():
    mr = RollingMeanReversion(10, 3)
    p = ou_path(11, 0.2, seed=5)
    values = [mr.push(float(x)) for x in p]
    assert all(math.isnan(v) for v in values[:10])
    assert 0.0 <= values[10] <= 1.0


def test_reverting_path_reads_strong_and_random_walk_weak():
    strong = streamed(ou_path(4_000, 0.3, seed=6))[WINDOW:]
    rng = np.random.default_rng(7)
    walk = streamed(math.log(50_000.0) + np.cumsum(rng.normal(0, 1e-3, 4_000)))[WINDOW:]
    assert np.median(strong) > 0.9  # 1 - 0.7**10 = 0.97
    assert np.median(walk) < 0.6


def test_flat_prices_have_no_strength():
    mr = RollingMeanReversion(10, 3)
    for _ in range(15):
        value = mr.push(10.0)
    assert math.isnan(value)
