"""The profit-based threshold: how many adverse moves end a position at a given price.

The seed's table (section 2.6.2): profit below 0.3 % → 5 moves, below 1 % → 3, below 2 % → 2,
else 1, where profit is the price's distance from the entry in the position's favour, as a
fraction of the entry. The tier boundaries are exact: each boundary price ``entry × (1 ± tier)``
is computed in Decimal from the tier as written in the config (0.003, not its binary
neighbour), then rounded *towards the side that keeps the comparison exact* for float prices.
At 50,000 the 0.3 % boundary is 50,150 exactly, so 50,150 (+0.30 %) is already in the 3-move
tier, as in the seed's table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt


def _float_at_or_above(x: Decimal) -> float:
    """The smallest float ≥ ``x``."""
    f = float(x)
    return math.nextafter(f, math.inf) if Decimal(f) < x else f


def _float_at_or_below(x: Decimal) -> float:
    """The largest float ≤ ``x``."""
    f = float(x)
    return math.nextafter(f, -math.inf) if Decimal(f) > x else f


class ProfitTiers:
    """Maps sample prices to the number of adverse moves that trigger an exit."""

    def __init__(self, tiers: Sequence[float], moves: Sequence[int]) -> None:
        if len(moves) != len(tiers) + 1:
            raise ValueError("moves needs exactly one more entry than tiers")
        self.tiers = tuple(Decimal(repr(t)) for t in tiers)
        self.moves = np.asarray(moves, dtype=np.int64)
        #: The fewest moves any tier asks (a run shorter than this triggers no tier).
        self.least = int(self.moves.min())
        self._cache: dict[tuple[Decimal, bool], npt.NDArray[np.float64]] = {}
        self._lists: dict[tuple[Decimal, bool], tuple[list[float], list[int]]] = {}

    def _bounds(self, entry: Decimal, long: bool) -> npt.NDArray[np.float64]:
        """Boundary prices, ascending, so that a price's tier is a binary search away.

        Long: ``price ≥ entry × (1 + t)`` ⇔ ``price ≥ bound`` (the smallest float at or above).
        Short: ``price ≤ entry × (1 − t)`` ⇔ ``price ≤ bound`` (the largest float at or below),
        stored ascending, i.e. highest tier first.
        """
        key = (entry, long)
        bounds = self._cache.get(key)
        if bounds is None:
            if long:
                values = [_float_at_or_above(entry * (1 + t)) for t in self.tiers]
            else:
                values = [_float_at_or_below(entry * (1 - t)) for t in reversed(self.tiers)]
            bounds = np.asarray(values, dtype=np.float64)
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = bounds
        return bounds

    def lookup(self, entry: Decimal, long: bool) -> tuple[list[float], list[int]]:
        """The boundary prices (as :meth:`required` searches them) and the moves per tier,
        as Python lists: ``moves[bisect_right(bounds, p)]`` for a long, ``moves[len(bounds) -
        bisect_left(bounds, p)]`` for a short is :meth:`required` of one price ``p``."""
        key = (entry, long)
        got = self._lists.get(key)
        if got is None:
            if len(self._lists) > 64:
                self._lists.clear()
            got = self._lists[key] = (self._bounds(entry, long).tolist(), self.moves.tolist())
        return got

    def arrays(
        self, entry: Decimal, long: bool
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """The boundary prices and the moves per tier as :meth:`required` reads them (the
        compiled loop's arguments)."""
        return self._bounds(entry, long), self.moves

    def required(
        self, prices: npt.NDArray[np.float64], entry: Decimal, long: bool
    ) -> npt.NDArray[np.int64]:
        """The adverse moves that trigger an exit at each of ``prices``."""
        bounds = self._bounds(entry, long)
        if long:
            reached = np.searchsorted(bounds, prices, side="right")  # tiers with profit ≥ t
        else:
            reached = len(bounds) - np.searchsorted(bounds, prices, side="left")
        return self.moves[reached]

    def profit(self, price: float, entry: Decimal, long: bool) -> Decimal:
        """Profit at ``price`` as a fraction of ``entry`` (exact for the float ``price``)."""
        diff = Decimal(price) - entry
        return (diff if long else -diff) / entry
