"""The O(1) rolling statistics equal numpy's two-pass results on long random series to 1e-9."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from micro_data import numpy_lag1, random_closes
from tradewind_analyzer_microstructure.rolling import (
    Lag1Autocorrelation,
    RollingCovariance,
    RollingMoments,
    RollingSum,
)

N = 100_000


@pytest.mark.parametrize("n", [2, 15, 60])
def test_moments_of_prices_match_numpy(n: int) -> None:
    closes = random_closes(N, seed=n)
    win = sliding_window_view(closes, n)
    mean, std = win.mean(axis=1), win.std(axis=1)  # population std (ddof=0)
    flat = win.max(axis=1) == win.min(axis=1)
    rm = RollingMoments(n)
    got_mean, got_std, got_dev = [], [], []
    for x in closes.tolist():
        rm.push(x)
        if rm.full:
            got_mean.append(rm.mean)
            got_std.append(rm.std)
            got_dev.append(rm.deviation(x))
    np.testing.assert_allclose(got_mean, mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got_std, std, rtol=0, atol=1e-9)
    z_numpy = np.where(flat, 0.0, (closes[n - 1 :] - mean) / np.where(flat, 1.0, std))
    z = np.where(np.array(got_std) > 0, np.array(got_dev) / np.where(flat, 1.0, got_std), 0.0)
    np.testing.assert_allclose(z, z_numpy, rtol=0, atol=1e-9)
    assert flat.any(), "the path must contain flat windows"
    assert (np.array(got_std)[flat] == 0.0).all(), "a flat window has a std of exactly 0"


def test_naive_running_sums_would_fail_this_test() -> None:
    """The guard is real: Σx² - n·mean² on the same path is off by far more than 1e-9."""
    closes = random_closes(20_000, seed=1)
    n = 15
    s = s2 = 0.0
    worst = 0.0
    for i, x in enumerate(closes.tolist()):
        s += x
        s2 += x * x
        if i >= n:
            old = float(closes[i - n])
            s -= old
            s2 -= old * old
        if i >= n - 1:
            var = max(s2 / n - (s / n) ** 2, 0.0)
            worst = max(worst, abs(math.sqrt(var) - float(closes[i - n + 1 : i + 1].std())))
    assert worst > 1e-6


@pytest.mark.parametrize("n", [3, 10, 30])
def test_lag1_autocorrelation_of_returns_matches_numpy(n: int) -> None:
    closes = random_closes(N, seed=100 + n)
    returns = np.diff(np.log(closes))
    expected = numpy_lag1(sliding_window_view(returns, n))
    ac = Lag1Autocorrelation(n)
    got = []
    for r in returns.tolist():
        ac.push(r)
        got.append(ac.value)
    got_arr = np.array(got[n - 1 :])
    assert all(math.isnan(v) for v in got[: n - 1])
    assert np.array_equal(np.isnan(got_arr), np.isnan(expected))
    ok = ~np.isnan(expected)
    assert ok.sum() > N // 2
    np.testing.assert_allclose(got_arr[ok], expected[ok], rtol=0, atol=1e-9)


def test_covariance_of_pairs_at_price_levels_matches_numpy() -> None:
    rng = np.random.default_rng(5)
    x = 50_000 + np.cumsum(rng.normal(0, 5, N))
    y = 3_000 + 0.06 * (x - 50_000) + rng.normal(0, 1, N)
    n = 20
    cov = RollingCovariance(n)
    got = []
    for a, b in zip(x.tolist(), y.tolist(), strict=True):
        cov.push(a, b)
        if cov.full:
            got.append(cov.correlation)
    wx, wy = sliding_window_view(x, n), sliding_window_view(y, n)
    xm, ym = wx - wx.mean(axis=1, keepdims=True), wy - wy.mean(axis=1, keepdims=True)
    expected = (xm * ym).sum(axis=1) / np.sqrt((xm**2).sum(axis=1) * (ym**2).sum(axis=1))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_rolling_sum_mean_matches_numpy() -> None:
    rng = np.random.default_rng(9)
    v = rng.lognormal(2, 1.5, N)  # volumes spanning orders of magnitude
    rs = RollingSum(20)
    got = []
    for x in v.tolist():
        rs.push(x)
        got.append(rs.mean)
    assert all(math.isnan(g) for g in got[:19])
    np.testing.assert_allclose(got[19:], sliding_window_view(v, 20).mean(axis=1), rtol=1e-12)


def test_windows_must_be_large_enough() -> None:
    with pytest.raises(ValueError, match="needs >= 3 values"):
        Lag1Autocorrelation(2)
    with pytest.raises(ValueError, match="window must be >= 1"):
        RollingMoments(0)
