"""Market data this venue delivers besides trades: depth books, funding rates, liquidations.

The core has :class:`~tradewind.model.BookTop` for the best bid and offer; these are the values
for the rest, in the same style (frozen, keyword-only, integer nanoseconds UTC, ``instrument``
is the ``venue:symbol`` key the engine uses). Prices and sizes are float64, as in tick batches.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt
from tradewind.model import BookTop


@attrs.frozen(kw_only=True, eq=False)
class L2Book:
    """The top ``depth`` levels of each side of a depth book after an update.

    ``bid_price`` is descending and ``ask_price`` ascending (best first); the arrays are
    read-only. ``sequence`` is the exchange's update id where it has one.
    """

    instrument: str
    ts_ns: int
    bid_price: npt.NDArray[np.float64]
    bid_size: npt.NDArray[np.float64]
    ask_price: npt.NDArray[np.float64]
    ask_size: npt.NDArray[np.float64]
    sequence: int | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("bid_price", "bid_size", "ask_price", "ask_size"):
            getattr(self, name).flags.writeable = False

    def top(self) -> BookTop | None:
        """The best bid and offer, or None while either side is empty."""
        if not len(self.bid_price) or not len(self.ask_price):
            return None
        return BookTop(
            instrument=self.instrument,
            ts_ns=self.ts_ns,
            bid_price=float(self.bid_price[0]),
            bid_size=float(self.bid_size[0]),
            ask_price=float(self.ask_price[0]),
            ask_size=float(self.ask_size[0]),
        )


@attrs.frozen(kw_only=True)
class FundingRate:
    """A perpetual's funding state as the exchange last published it.

    ``rate`` is a fraction per funding interval (0.0001 = 1 bp); NaN where the exchange sent
    none. ``next_funding_ts_ns`` is None when unknown.
    """

    instrument: str
    ts_ns: int
    rate: float
    mark_price: float = math.nan
    predicted_rate: float = math.nan
    next_funding_ts_ns: int | None = None


@attrs.frozen(kw_only=True)
class Liquidation:
    """A forced order the exchange published.

    ``side`` is the liquidation order's side: +1 a short was bought in, -1 a long was sold out.
    """

    instrument: str
    ts_ns: int
    side: int
    price: float
    size: float
    status: str = ""
    liquidation_id: str | None = None
