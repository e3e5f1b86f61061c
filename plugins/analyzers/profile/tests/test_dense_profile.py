"""The profile's volumes in a dense int64 array (compiled ``dense_add``/``dense_levels``)
against the dict and ``value_area`` they replace: the same levels bin for bin, re-centring as
prices drift, and the dict taking over while a stray print spreads the bins too far."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from tradewind_analyzer_profile import _kernel, market_profile
from tradewind_analyzer_profile.market_profile import VolumeProfile, value_area

SEC = 10**9


def test_dense_levels_are_value_area_of_the_nonzero_bins() -> None:
    """Random profiles with many ties (volumes from a tiny range), gaps of empty bins, every
    value-area fraction from 10 % to 100 %, at negative and positive bases."""
    rng = random.Random(29)
    for _ in range(6000):
        length = rng.randint(1, 120)
        dense = np.zeros(length, dtype=np.int64)
        top = rng.choice([1, 2, 3, 5, 1000, 10**15])
        for i in rng.sample(range(length), rng.randint(1, length)):
            dense[i] = rng.randint(1, top)
        base = rng.randint(-(10**12), 10**12)
        pct = Fraction(rng.choice([1, 3, 7, 9, 10]), 10)
        held = np.flatnonzero(dense)
        want = value_area((held + base).tolist(), dense[held].tolist(), pct)
        assert want is not None
        got = _kernel.dense_levels(dense, base, pct.numerator, pct.denominator)
        assert got == (
            want.poc_bin,
            want.val_bin,
            want.vah_bin,
            want.total,
            want.value_area_total,
        ), (dense.tolist(), base, pct)
    assert _kernel.dense_levels(np.zeros(5, dtype=np.int64), 0, 7, 10) is None
    # A total past 64 bits: declined, for Python's integers to answer.
    big = np.array([2**62, 2**62, 2**62], dtype=np.int64)
    assert _kernel.dense_levels(big, 0, 7, 10) is NotImplemented


def test_dense_add_applies_lists_and_arrays_or_names_the_range_it_needs() -> None:
    dense = np.zeros(10, dtype=np.int64)
    assert _kernel.dense_add(dense, 100, [101, 105, 101], [2, 3, 0], 1) == 5
    assert _kernel.dense_add(dense, 100, np.array([101]), np.array([1]), 1) == 1
    assert dense.tolist() == [0, 3, 0, 0, 0, 3, 0, 0, 0, 0]
    # A bin outside the array: nothing changes, the range of the call's bins comes back
    # (zero quantities left out).
    assert _kernel.dense_add(dense, 100, [95, 101, 120], [1, 1, 0], 1) == (95, 101)
    assert dense.tolist() == [0, 3, 0, 0, 0, 3, 0, 0, 0, 0]
    assert _kernel.dense_add(dense, 100, [101, 105], [3, 1], -1) == -4
    assert dense.tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 0, 0]
    # Below zero (or past 64 bits): an error naming it, the array as it was.
    with pytest.raises(ValueError, match="below zero"):
        _kernel.dense_add(dense, 100, [105, 105], [1, 5], -1)
    with pytest.raises(OverflowError, match="64 bits"):
        _kernel.dense_add(dense, 100, [103, 105], [1, 2**63 - 1], 1)
    assert dense.tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 0, 0]


def _reference(trades: list[tuple[int, int, int]], now: int, window: int) -> dict[int, int]:
    volume: dict[int, int] = {}
    for ts, b, q in trades:
        if now - window <= ts < now and q:
            volume[b] = volume.get(b, 0) + q
    return {b: v for b, v in sorted(volume.items()) if v}


@pytest.mark.parametrize("dense_max", [1 << 16, 40])
def test_drifting_prices_and_stray_prints_keep_the_exact_volumes(
    monkeypatch: pytest.MonkeyPatch, dense_max: int
) -> None:
    """A random walk that drifts hundreds of bins (the array re-centres), with stray prints
    far away (with a small DENSE_MAX the dict takes over, and the array returns once they
    leave the window): after every batch the volumes are a recount's, and the levels
    ``value_area``'s of them."""
    monkeypatch.setattr(market_profile, "DENSE_MAX", dense_max)
    window = 60 * SEC
    p = VolumeProfile(
        window_ns=window,
        tick_size=Decimal(1),
        bin_ticks=1,
        volume_quantum=Decimal(1),
        value_area_pct=0.7,
    )
    rng = np.random.default_rng(3)
    trades: list[tuple[int, int, int]] = []
    t, price, modes = 0, 1000.0, set()
    for step in range(600):
        n = int(rng.choice([1, 3, 24, 25, 80]))
        ts = t + np.sort(rng.integers(0, 5 * SEC, n))
        t = int(ts[-1]) + 1
        prices = np.round(price + np.cumsum(rng.normal(0, 2, n)))
        price = float(prices[-1])
        if step % 97 == 50:
            prices[0] = price + 5000.0  # a stray print far above
        sizes = rng.integers(0, 4, n).astype(np.float64)
        p.add(ts, prices, sizes)
        bins = prices.astype(np.int64).tolist()
        trades += zip(ts.tolist(), bins, sizes.astype(int).tolist(), strict=True)
        if step % 7 == 0:
            t += 20 * SEC
            p.advance(t)
        now = p.now_ns
        want = _reference(trades, now, window)
        assert p.bin_volumes() == want, step
        assert p.bin_count() == len(want)
        lv = p.bin_levels()
        modes.add(p._dense is None)
        if want:
            ref = value_area(list(want), list(want.values()), Fraction(7, 10))
            assert lv == ref, step
        else:
            assert lv is None
    assert modes == ({False, True} if dense_max == 40 else {False})
