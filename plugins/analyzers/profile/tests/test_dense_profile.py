"""The profile's volumes in a dense int64 array (compiled ``dense_add``/``dense_levels``)
against the dict and ``value_area`` they replace: the same levels bin for bin, re-centring as
prices drift, and the dict taking over while a stray print spreads the bins too far."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tradewind.model import TickBatch

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


def test_dense_rows_gives_each_close_the_levels_of_dense_add_then_dense_levels() -> None:
    """``dense_rows`` (a BlockWindow's closes in one call) against the per-close calls it
    replaces: for random trades and random leave/enter ranges (some empty, some reversed),
    every row's levels and bins with volume, and the array after the last row; a bin outside
    the array names the range needed and changes nothing; a total past 64 bits is left to
    the per-close path."""
    rng = random.Random(41)
    for _ in range(400):
        n_trades = rng.randint(1, 300)
        bins = np.array([rng.randint(-40, 40) for _ in range(n_trades)], dtype=np.int64)
        qty = np.array([rng.choice([0, 1, 2, 3, 7, 10**9]) for _ in range(n_trades)], np.int64)
        base, length = -50, 101
        # Rows: a sliding window over the trades (entering in order, leaving in order).
        rows, entered, left = [], 0, 0
        while entered < n_trades:
            a1 = min(n_trades, entered + rng.randint(0, 12))
            s1 = rng.randint(left, entered) if rng.random() < 0.7 else left
            rows.append((left, s1, entered, a1) if rng.random() < 0.9 else (s1, left, entered, a1))
            left = max(left, s1)
            entered = a1
        ranges = np.array(rows, dtype=np.int64).reshape(-1, 4)
        pct = Fraction(rng.choice([1, 5, 7, 10]), 10)
        start = np.zeros(length, dtype=np.int64)
        want_dense = start.copy()
        want = []
        for s0, s1, a0, a1 in rows:
            if s1 > s0:
                _kernel.dense_add(want_dense, base, bins[s0:s1], qty[s0:s1], -1)
            if a1 > a0:
                _kernel.dense_add(want_dense, base, bins[a0:a1], qty[a0:a1], 1)
            lv = _kernel.dense_levels(want_dense, base, pct.numerator, pct.denominator)
            held = int(np.count_nonzero(want_dense))
            want.append([0, 0, 0, 0, 0, 0, held] if lv is None else [1, *lv, held])
        dense = start.copy()
        out = np.empty((len(rows), 7), dtype=np.int64)
        got = _kernel.dense_rows(
            dense, base, bins, qty, ranges, pct.numerator, pct.denominator, out
        )
        assert got is None
        assert out.tolist() == want
        assert dense.tolist() == want_dense.tolist()
        # With bin_trades' extent of the trades (no pass over them): the same rows.
        held = bins[qty != 0].tolist()
        extent = ((min(held), max(held)) if held else (0, -1)) + (int(qty[qty > 0].sum()),)
        dense = start.copy()
        out = np.empty((len(rows), 7), dtype=np.int64)
        got = _kernel.dense_rows(
            dense, base, bins, qty, ranges, pct.numerator, pct.denominator, out, extent
        )
        assert got is None
        assert out.tolist() == want
        assert dense.tolist() == want_dense.tolist()
    # A bin outside the array: the range the rows need, nothing changed.
    dense = np.zeros(10, dtype=np.int64)
    bins = np.array([3, 12, -2], dtype=np.int64)
    qty = np.array([1, 1, 1], dtype=np.int64)
    ranges = np.array([[0, 0, 0, 1], [0, 0, 1, 3]], dtype=np.int64)
    out = np.zeros((2, 7), dtype=np.int64)
    assert _kernel.dense_rows(dense, 0, bins, qty, ranges, 7, 10, out) == (-2, 12)
    assert not dense.any() and not out.any()
    # ... and with an extent: the extent's range (it may be wider than the rows' trades).
    assert _kernel.dense_rows(dense, 0, bins, qty, ranges, 7, 10, out, (-5, 12, 3)) == (-5, 12)
    assert not dense.any() and not out.any()
    # An extent inside the array but a range outside the trades: an error, nothing changed.
    with pytest.raises(ValueError, match="range outside the trades"):
        _kernel.dense_rows(
            dense,
            0,
            bins,
            qty,
            np.array([[0, 0, 1, 4]], np.int64),
            7,
            10,
            np.zeros((1, 7), np.int64),
            (0, 9, 3),
        )
    assert not dense.any()
    # A total that could pass 64 bits.
    big = np.array([2**62, 2**62], dtype=np.int64)
    assert (
        _kernel.dense_rows(
            dense,
            0,
            np.array([1, 2], np.int64),
            big,
            np.array([[0, 0, 0, 2]], np.int64),
            7,
            10,
            np.zeros((1, 7), np.int64),
        )
        is NotImplemented
    )
    assert not dense.any()
    # ... also when only the extent's bound of the quantities says so (bin_trades gives -1,
    # not an extent, past 64 bits).
    for bound in (2**63 - 1, 2**62 + 1):
        dense[0] = 2**62
        assert (
            _kernel.dense_rows(
                dense,
                0,
                np.array([1], np.int64),
                np.array([1], np.int64),
                np.array([[0, 0, 0, 1]], np.int64),
                7,
                10,
                np.zeros((1, 7), np.int64),
                (1, 1, bound),
            )
            is NotImplemented
        )
        assert dense.tolist() == [2**62] + [0] * 9
    dense[0] = 0


def test_reads_in_the_middle_of_a_block_computed_ahead_see_that_close() -> None:
    """A BlockWindow computes its closes ahead and leaves the profile's array behind: the
    volumes, bin count and levels read at any close are those of the close-by-close path,
    and feeding the profile in the middle of the block (a caller that does not wait for the
    block's end) brings the array to that close first and takes the rest close by close."""
    rng = np.random.default_rng(5)
    n = 4000
    ts = np.cumsum(rng.integers(1, 3 * SEC, n)).astype(np.int64)
    price = np.round(50000 + np.cumsum(rng.normal(0, 2, n)), 1)
    size = np.round(rng.exponential(0.05, n) + 0.001, 3)
    closes = np.arange(60 * SEC, int(ts[-1]), 60 * SEC, dtype=np.int64)
    ends = ts.searchsorted(closes, side="left").astype(np.int64)

    def fresh() -> VolumeProfile:
        return VolumeProfile(
            window_ns=600 * SEC,
            tick_size=Decimal("0.1"),
            bin_ticks=5,
            volume_quantum=Decimal("0.001"),
            value_area_pct=0.7,
        )

    one, ahead, fed = fresh(), fresh(), fresh()
    window = market_profile.BlockWindow(ahead, ts, price, size, ends, closes)
    window_fed = market_profile.BlockWindow(fed, ts, price, size, ends, closes)
    start = 0
    for r, close in enumerate(closes.tolist()):
        if ends[r] > start:
            one.add(ts[start : ends[r]], price[start : ends[r]], size[start : ends[r]])
            start = int(ends[r])
        one.advance(close)
        window.row(r)
        window_fed.row(r)
        assert ahead._ahead is window or (r == 0 and ahead._ahead is None)
        assert ahead.bin_count() == one.bin_count()
        assert ahead.levels() == one.levels()
        if r % 7 == 0:
            assert ahead.bin_volumes() == one.bin_volumes()
        if r == len(closes) // 2:
            # The contract is broken here on purpose: the profile is moved mid-block (the
            # reference too: 1 ns later, the same window at the next close).
            t = one.now_ns + 1
            one.advance(t)
            fed.advance(t)
            assert fed._ahead is None and window_fed._ahead is None
        assert fed.levels() == one.levels() and fed.bin_volumes() == one.bin_volumes()
    window.finish()
    window_fed.finish()
    assert ahead._ahead is None
    for p in (ahead, fed):
        assert p.bin_volumes() == one.bin_volumes() and p.levels() == one.levels()


def test_a_kernel_built_from_an_older_checkout_is_a_clear_import_error(monkeypatch):
    """An in-place build older than the Python code (it lacks ``dense_rows``) fails at import,
    naming what it lacks and how to rebuild, not with an AttributeError in a run."""
    import importlib.util
    import sys
    import types

    import tradewind_analyzer_profile

    stale = types.ModuleType("tradewind_analyzer_profile._kernel")
    for name in ("value_area", "dense_add", "dense_levels", "apply_ranges"):
        setattr(stale, name, getattr(_kernel, name))
    monkeypatch.setattr(tradewind_analyzer_profile, "_kernel", stale)
    monkeypatch.setitem(sys.modules, "tradewind_analyzer_profile._kernel", stale)
    spec = importlib.util.spec_from_file_location("_stale_market_profile", market_profile.__file__)
    assert spec is not None and spec.loader is not None
    with pytest.raises(ImportError, match=r"lacks dense_rows.*pip install -e"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 2**62)),
        min_size=1,
        max_size=200,
    ),
    st.integers(-(10**12), 10**12),
)
def test_dense_poc_is_the_poc_of_dense_levels(volumes: list[int], base: int) -> None:
    """The POC computed alone (``dense_poc``) is the levels' POC bin (``dense_levels``, or
    ``value_area`` in Python's integers where the total passes 64 bits): ties from tiny
    volumes, empty bins, totals past 64 bits, an array without volume."""
    dense = np.array(volumes, dtype=np.int64)
    got = _kernel.dense_poc(dense, base)
    held = np.flatnonzero(dense)
    if not len(held):
        assert got is None
        assert _kernel.dense_levels(dense, base, 7, 10) is None
        return
    want = value_area((held + base).tolist(), dense[held].tolist(), Fraction(7, 10))
    assert want is not None
    assert got == want.poc_bin, volumes
    levels = _kernel.dense_levels(dense, base, 7, 10)
    if levels is not NotImplemented:
        assert got == levels[0]


def _twins(
    tick: str, bin_ticks: int, quantum: str, window: int
) -> tuple[VolumeProfile, VolumeProfile]:
    return tuple(  # type: ignore[return-value]
        VolumeProfile(
            window_ns=window,
            tick_size=Decimal(tick),
            bin_ticks=bin_ticks,
            volume_quantum=Decimal(quantum),
            value_area_pct=0.7,
        )
        for _ in range(2)
    )


def _poc_alone_against_the_levels(
    alone: VolumeProfile, full: VolumeProfile, rng: random.Random, step: int
) -> None:
    """``alone.poc()`` (the POC computed alone while the levels are stale) against the POC
    of ``full``'s levels (the path before it), the same float; now and then ``alone``'s
    levels read after its POC, which must be ``full``'s too."""
    want = full.levels()
    got = alone.poc()
    if want is None:
        assert got is None, step
        return
    assert got is not None and got.hex() == want.poc.hex(), step
    if rng.random() < 0.3:
        assert alone.levels() == want, step
        assert alone.poc() == got, step


@pytest.mark.parametrize("dense_max", [1 << 16, 40])
def test_the_poc_read_alone_is_the_levels_poc_on_a_random_walk(
    monkeypatch: pytest.MonkeyPatch, dense_max: int
) -> None:
    """A drifting random walk with ties (integer sizes), stray prints (with a small
    DENSE_MAX the dict takes over), windows that empty: after every batch and every
    advance, the POC read alone is the one the full levels give."""
    monkeypatch.setattr(market_profile, "DENSE_MAX", dense_max)
    alone, full = _twins("1", 3, "1", 60 * SEC)
    rng = random.Random(41)
    nrng = np.random.default_rng(41)
    t, price = 0, 1000.0
    for step in range(1500):
        n = int(nrng.choice([1, 2, 5, 24, 25, 80]))
        ts = t + np.sort(nrng.integers(0, 5 * SEC, n))
        t = int(ts[-1]) + 1
        prices = np.round(price + np.cumsum(nrng.normal(0, 2, n)))
        price = float(prices[-1])
        if step % 97 == 50:
            prices[0] = price + 5000.0
        sizes = nrng.integers(0, 4, n).astype(np.float64)
        for p in (alone, full):
            p.add(ts, prices, sizes)
        _poc_alone_against_the_levels(alone, full, rng, step)
        if step % 5 == 0:
            t += int(nrng.choice([1, 20, 90])) * SEC  # 90 s: the window empties
            for p in (alone, full):
                p.advance(t)
            _poc_alone_against_the_levels(alone, full, rng, step)


def test_the_poc_read_alone_is_the_levels_poc_on_the_recorded_tape(
    tardis_trades: TickBatch,
) -> None:
    """The recorded tape in batches of 1 to 60 trades, the window advanced to each minute's
    end as the analyzer's candles do: the POC read alone is the full levels' POC."""
    alone, full = _twins("0.01", 10, "0.000001", 15 * 60 * SEC)
    rng = random.Random(5)
    ts = tardis_trades.ts_ns
    i, n, step = 0, len(ts), 0
    minute = 60 * SEC
    while i < n:
        j = min(n, i + rng.randint(1, 60))
        piece = tardis_trades.slice(i, j)
        for p in (alone, full):
            p.add(piece.ts_ns, piece.price, piece.size)
        _poc_alone_against_the_levels(alone, full, rng, step)
        end = (int(ts[j - 1]) // minute + 1) * minute
        if j == n or int(ts[j]) >= end:
            for p in (alone, full):
                p.advance(end)
            _poc_alone_against_the_levels(alone, full, rng, step)
        i, step = j, step + 1
