"""Fused multiply-add: ``x * y + z`` rounded once, as C's ``fma()`` and TA-Lib 0.8 compute it.

Python gained :func:`math.fma` in 3.13. On older versions this module computes the same
correctly rounded result exactly: a finite float is a dyadic rational, so ``x * y + z`` is an
integer over a power of two, and CPython's int / int true division rounds correctly (about
1 µs a call).
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["fma"]


def _exact_fma(x: float, y: float, z: float) -> float:
    """``x * y + z`` with a single rounding to the nearest float (ties to even)."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return x * y + z  # infinities and NaN propagate the same either way
    if x == 0.0 or y == 0.0 or z == 0.0:
        return x * y + z  # at most one rounding happens here, and IEEE gets the zero signs
    nx, dx = x.as_integer_ratio()
    ny, dy = y.as_integer_ratio()
    nz, dz = z.as_integer_ratio()
    den = dx * dy  # every denominator is a power of two, so the larger one is common
    if den >= dz:
        num = nx * ny + nz * (den // dz)
    else:
        num = nx * ny * (dz // den) + nz
        den = dz
    if num == 0:
        return 0.0  # an exact zero sum is +0.0 when rounding to nearest
    return num / den


fma: Callable[[float, float, float], float] = getattr(math, "fma", _exact_fma)
