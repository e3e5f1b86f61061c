"""The rolling Hurst exponent H(2): equal to the batch formula, and it reads persistence right."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tradewind_analyzer_regime import RollingHurst

WINDOW, LAGS = 100, np.arange(1, 11)


def batch_hurst(p: np.ndarray, window: int = WINDOW, lags: np.ndarray = LAGS) -> np.ndarray:
    """polyfit(log L, log rms(p[L:] - p[:-L]), 1) over each trailing window of ``p``."""
    out = np.full(len(p), np.nan)
    windows = sliding_window_view(p, window)
    log_rms = np.stack(
        [0.5 * np.log(((windows[:, lag:] - windows[:, :-lag]) ** 2).mean(axis=1)) for lag in lags],
        axis=1,
    )
    out[window - 1 :] = np.polyfit(np.log(lags), log_rms.T, 1)[0]
    return out


def streamed(p: np.ndarray, window: int = WINDOW, lags: np.ndarray = LAGS) -> np.ndarray:
    h = RollingHurst(window, int(lags[0]), int(lags[-1]))
    out = []
    for x in p:
        h.push(float(x))
        out.append(h.value)
    return np.array(out)


def log_path(increments: np.ndarray) -> np.ndarray:
    return math.log(50_000.0) + np.cumsum(increments)


def ar1_increments(n: int, phi: float, seed: int) -> np.ndarray:
    """Increments with lag-1 autocorrelation ``phi`` (positive: moves persist)."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 1e-3, n)
    x = np.empty(n)
    x[0] = e[0]
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def test_streaming_equals_the_batch_formula_over_20k_updates():
    p = log_path(np.random.default_rng(11).normal(0, 1e-3, 20_000))
    ours, theirs = streamed(p), batch_hurst(p)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.nanmax(np.abs(ours - theirs)) < 1e-9


def test_other_window_and_lags():
    p = log_path(np.random.default_rng(12).normal(0, 1e-3, 3_000))
    lags = np.arange(3, 26)
    ours, theirs = streamed(p, 50, lags), batch_hurst(p, 50, lags)
    assert np.nanmax(np.abs(ours - theirs)) < 1e-9


def test_nan_until_the_window_is_full():
    h = RollingHurst(WINDOW, 1, 10)
    for x in log_path(np.random.default_rng(1).normal(0, 1e-3, WINDOW - 1)):
        h.push(float(x))
    assert math.isnan(h.value)
    h.push(11.0)
    assert math.isfinite(h.value)


def test_a_straight_line_has_hurst_one():
    # p = a t: every lag-L difference is a L, so the root mean square grows exactly like L.
    t = np.arange(300, dtype=float)
    assert streamed(10.0 + 1e-4 * t)[-1] == pytest.approx(1.0, abs=1e-9)


def test_a_drifting_walk_reads_persistent():
    rng = np.random.default_rng(8)
    drifting = streamed(log_path(rng.normal(3e-4, 1e-3, 5_000)))[WINDOW:]
    assert np.median(drifting) > 0.6


def test_persistent_random_and_reverting_moves():
    n = 5_000
    persistent = streamed(log_path(ar1_increments(n, 0.6, seed=1)))[WINDOW:]
    random = streamed(log_path(ar1_increments(n, 0.0, seed=2)))[WINDOW:]
    reverting = streamed(log_path(ar1_increments(n, -0.6, seed=3)))[WINDOW:]
    assert np.median(persistent) > 0.6
    assert 0.4 < np.median(random) < 0.6
    assert np.median(reverting) < 0.4


def test_a_flat_window_has_no_hurst_exponent():
    h = RollingHurst(20, 1, 5)
    for _ in range(25):
        h.push(10.0)
    assert math.isnan(h.value)


def test_lags_must_fit_the_window():
    with pytest.raises(ValueError, match="max_lag <= window / 2"):
        RollingHurst(20, 2, 11)
