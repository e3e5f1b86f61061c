"""The fused multiply-add fallback rounds once, like C's fma()."""

import math
import random
from fractions import Fraction

import pytest

from tradewind_analyzer_regime.fused import _exact_fma, fma


def exact(x: float, y: float, z: float) -> float:
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def test_one_rounding_where_two_roundings_differ():
    # 0.1 * 10 is 1.0000000000000000555 exactly; minus 1 that is 2**-54 + ..., which a
    # rounded product (exactly 1.0) would lose.
    assert 0.1 * 10 - 1.0 == 0.0
    assert _exact_fma(0.1, 10.0, -1.0) == exact(0.1, 10.0, -1.0) == 5.551115123125783e-17


def test_matches_exact_rational_arithmetic_on_random_inputs():
    rng = random.Random(7)
    for _ in range(20_000):
        x = rng.uniform(-1e3, 1e3) * 10 ** rng.randint(-12, 12)
        y = rng.uniform(-1, 1) * 10 ** rng.randint(-12, 12)
        z = -x * y if rng.random() < 0.3 else rng.uniform(-1e3, 1e3) * 10 ** rng.randint(-12, 12)
        assert _exact_fma(x, y, z) == exact(x, y, z), (x, y, z)


@pytest.mark.parametrize(
    ("x", "y", "z", "expected"),
    [(0.0, 5.0, 2.5, 2.5), (3.0, 0.5, 0.0, 1.5), (2.0, -1.5, 3.0, 0.0)],
)
def test_zeros(x, y, z, expected):
    assert _exact_fma(x, y, z) == expected


def test_non_finite_inputs_propagate():
    assert math.isnan(_exact_fma(math.nan, 1.0, 1.0))
    assert _exact_fma(math.inf, 2.0, 1.0) == math.inf


def test_the_module_fma_is_math_fma_or_the_fallback():
    assert fma is getattr(math, "fma", _exact_fma)
    assert fma(0.1, 10.0, -1.0) == 5.551115123125783e-17
