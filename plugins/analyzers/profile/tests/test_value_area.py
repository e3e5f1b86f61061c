"""``value_area`` (the tightened loop) against a plain statement of the module's rules."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest

from tradewind_analyzer_profile import _kernel
from tradewind_analyzer_profile.market_profile import profile_value_area, value_area


def rules(bins: list[int], volumes: list[int], pct: Fraction) -> tuple[int, int, int, int, int]:
    """POC: most volume, ties nearest the range's midpoint, then the lower; the area grows
    by the side with more volume, equal volume the nearer the POC, equally near the lower,
    until it holds at least ``pct`` of the total (exact fractions)."""
    total = sum(volumes)
    mid = Fraction(bins[0] + bins[-1], 2)
    poc = min(range(len(bins)), key=lambda i: (-volumes[i], abs(bins[i] - mid), bins[i]))
    lo = hi = poc
    acc = volumes[poc]
    while Fraction(acc, total) < pct:
        cands = []
        if hi + 1 < len(bins):
            cands.append((-volumes[hi + 1], bins[hi + 1] - bins[poc], 1, "up"))
        if lo > 0:
            cands.append((-volumes[lo - 1], bins[poc] - bins[lo - 1], 0, "down"))
        side = min(cands)[3]
        if side == "up":
            hi += 1
            acc += volumes[hi]
        else:
            lo -= 1
            acc += volumes[lo]
    return bins[poc], bins[lo], bins[hi], total, acc


def test_random_profiles_with_ties_follow_the_rules() -> None:
    rng = random.Random(17)
    for _ in range(5000):
        n = rng.randint(1, 50)
        bins = sorted(rng.sample(range(-30, 170), n))
        top = rng.choice([1, 2, 3, 5, 1000])
        volumes = [rng.randint(1, top) for _ in range(n)]
        pct = Fraction(rng.choice([1, 3, 7, 9, 10]), 10)
        got = value_area(bins, volumes, pct)
        assert got is not None
        assert (got.poc_bin, got.val_bin, got.vah_bin, got.total, got.value_area_total) == rules(
            bins, volumes, pct
        ), (bins, volumes, pct)
    assert value_area([], [], Fraction(7, 10)) is None


def test_compiled_value_area_is_the_python_one() -> None:
    """``profile_value_area`` (the C kernel over the volume dict, in insertion order) against
    ``value_area`` over the sorted bins: dense neighbouring bins, bins spread over a range
    far wider than their count (the kernel sorts those instead), negative bins, and numbers
    beyond 64 bits (the kernel declines them and the Python path answers)."""
    rng = random.Random(23)
    for case in range(6000):
        n = rng.randint(1, 60)
        if case % 3 == 0:
            bins = rng.sample(range(-(10**12), 10**12), n)  # sparse: the qsort path
        else:
            bins = rng.sample(range(-40, 300), n)
        top = rng.choice([1, 2, 3, 5, 1000, 10**15])
        volumes = [rng.randint(1, top) for _ in range(n)]
        if case % 50 == 0:
            volumes[0] = 2**70  # beyond int64: Python path
        volume = dict(zip(bins, volumes, strict=True))  # unsorted insertion order
        pct = Fraction(rng.choice([1, 3, 7, 9, 10]), 10)
        order = sorted(bins)
        want = value_area(order, [volume[b] for b in order], pct)
        assert profile_value_area(volume, pct) == want, (volume, pct)
    assert profile_value_area({}, Fraction(7, 10)) is None
    assert profile_value_area({2**80: 5, 3: 1}, Fraction(7, 10)) == value_area(
        [3, 2**80], [1, 5], Fraction(7, 10)
    )


def test_compiled_apply_ranges_is_the_python_loop() -> None:
    """``_kernel.apply_ranges`` (one close of a BlockWindow: a range of trades leaves, a range
    enters) against the per-(close, bin) netting it replaced, with bins close together (the
    kernel's scratch array) and spread far apart (its trade-by-trade path)."""
    rng = random.Random(5)
    for case in range(3000):
        spread = 10**12 if case % 4 == 0 else 120
        n = rng.randint(0, 80)
        bins = [rng.randrange(-spread, spread) for _ in range(n)]
        qty = [rng.choice([0, 1, 7, 10**6]) for _ in range(n)]
        s0 = rng.randint(0, n)
        s1 = rng.randint(s0, n)
        a0 = rng.randint(s1, n)
        a1 = rng.randint(a0, n)
        base: dict[int, int] = {}
        for b, q in zip(bins[s0:s1], qty[s0:s1], strict=True):  # the leaving trades are in
            if q:
                base[b] = base.get(b, 0) + q
        for b in rng.sample(range(-spread, spread), 5):
            base[b] = base.get(b, 0) + 3
        want = dict(base)
        net: dict[int, int] = {}
        for b, q in zip(bins[s0:s1], qty[s0:s1], strict=True):
            net[b] = net.get(b, 0) - q
        for b, q in zip(bins[a0:a1], qty[a0:a1], strict=True):
            net[b] = net.get(b, 0) + q
        total = 0
        for b, q in net.items():
            if q:
                left = want.get(b, 0) + q
                if left:
                    want[b] = left
                else:
                    del want[b]
                total += q
        got = dict(base)
        arr_b = np.array(bins, dtype=np.int64)
        arr_q = np.array(qty, dtype=np.int64)
        assert _kernel.apply_ranges(got, arr_b, arr_q, s0, s1, a0, a1) == total
        assert got == want, case
    with pytest.raises(ValueError, match="ranges inside them"):
        _kernel.apply_ranges({}, np.zeros(1, np.int64), np.zeros(1, np.int64), 0, 2, 0, 0)
