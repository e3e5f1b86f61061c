"""``value_area`` (the tightened loop) against a plain statement of the module's rules."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from tradewind_analyzer_profile import _kernel
from tradewind_analyzer_profile.market_profile import profile_value_area, value_area


def rules(bins: list[int], volumes: list[int], pct: Fraction) -> tuple[int, int, int, int, int]:
    """POC: most volume, ties nearest the range's midpoint, then the lower; the area grows
    by the side with more volume, equal volume the nearer the POC, equally near the lower,
    until it holds at least ``pct`` of the total (exact fractions)."""
    total = sum(volumes)
    mid = Fraction(bins[0] + bins[-1], 2)
    poc = min(
        range(len(bins)), key=lambda i: (-volumes[i], abs(bins[i] - mid), bins[i])
    )
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


def test_compiled_apply_is_the_python_loop() -> None:
    """``_kernel.apply`` (a BlockWindow row) against the Python loop it replaced."""
    rng = random.Random(5)
    for _ in range(2000):
        base = {b: rng.randint(1, 50) for b in rng.sample(range(100), rng.randint(0, 40))}
        bins, qty = [], []
        for _ in range(rng.randint(0, 60)):
            b = rng.randrange(110)
            bins.append(b)
            qty.append(rng.choice([-1, 1]) * rng.randint(1, 60))
        # keep every volume positive or zero, as a real window does
        probe = dict(base)
        ok_bins, ok_qty = [], []
        for b, q in zip(bins, qty, strict=True):
            if probe.get(b, 0) + q >= 0 and q:
                probe[b] = probe.get(b, 0) + q
                if probe[b] == 0:
                    del probe[b]
                ok_bins.append(b)
                ok_qty.append(q)
        lo = rng.randint(0, len(ok_bins))
        hi = rng.randint(lo, len(ok_bins))
        want = dict(base)
        total = 0
        for b, q in zip(ok_bins[lo:hi], ok_qty[lo:hi], strict=True):
            left = want.get(b, 0) + q
            if left:
                want[b] = left
            else:
                del want[b]
            total += q
        got = dict(base)
        assert _kernel.apply(got, ok_bins, ok_qty, lo, hi) == total
        assert got == want
    with pytest.raises(IndexError, match="outside the lists"):
        _kernel.apply({}, [1], [1], 0, 2)
