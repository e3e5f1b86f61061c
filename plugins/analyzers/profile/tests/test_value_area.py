"""``value_area`` (the tightened loop) against a plain statement of the module's rules."""

from __future__ import annotations

import random
from fractions import Fraction

from tradewind_analyzer_profile.market_profile import value_area


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
