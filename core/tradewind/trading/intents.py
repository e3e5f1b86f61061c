"""What an order does to a position (its intent), and when a holding is no position at all.

Every order the engine sends carries one intent (:data:`tradewind.model.INTENTS`), decided
from the position it meets:

- ``entry``: the instrument holds no position (or only dust);
- ``add``: same side as the position (allowed up to ``[strategy] pyramiding``);
- ``reduce``: the other side, for less than the position: a position remains;
- ``close``: the other side, for the position (what remains is nothing, or dust);
- ``flip``: the other side, for more than the position: it goes through zero.

Dust is a holding below what the instrument can trade: under one lot (its minimum quantity),
or, on spot, worth less than the minimum notional at the last price. A spot account keeps it
after a close whose entry paid its fee in the bought coin (0.166 bought, 0.000166 fee, 0.16583
sellable on a 0.00001 lot). It cannot be sold, so it is not a position: it blocks no entry,
fills no ``maxpositions`` slot and is never closed.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from tradewind.model import Instrument, InstrumentKind, Side


def is_dust(instrument: Instrument | None, quantity: Decimal, price: float = math.nan) -> bool:
    """True when a non-zero holding of ``quantity`` (signed) is below one lot of
    ``instrument``, or on spot worth less than its minimum notional at ``price`` (when
    known). An unknown instrument has no dust."""
    if quantity == 0 or instrument is None:
        return False
    size = abs(quantity)
    if size < instrument.lot_size:
        return True
    if (
        instrument.kind is InstrumentKind.SPOT
        and instrument.min_notional > 0
        and math.isfinite(price)
        and price > 0
    ):
        return size * Decimal(repr(price)) < instrument.min_notional
    return False


def holds(instrument: Instrument | None, quantity: Decimal, price: float = math.nan) -> bool:
    """True when ``quantity`` (signed) is a position to manage: non-zero and not dust."""
    return quantity != 0 and not is_dust(instrument, quantity, price)


def short_refused(instrument: Instrument, side: Side, venue: Any) -> bool:
    """True when an entry on ``side`` would be a short sale the market cannot carry: a sell
    entry on a spot instrument whose execution venue keeps an account (balances per
    currency: the coin sold must be held) and does not declare ``margin`` (a venue declares
    it when its config enables margin trading). The simulated venue keeps no account: its
    spot shorts are simulated as on margin, as before."""
    if side is not Side.SELL or instrument.kind is not InstrumentKind.SPOT:
        return False
    caps = venue.capabilities
    return "account" in caps and "margin" not in caps


def order_intent(
    instrument: Instrument | None,
    position_quantity: Decimal,
    side: Side,
    quantity: Decimal,
    price: float = math.nan,
) -> str:
    """The intent of an order of ``quantity`` on ``side`` against a position of
    ``position_quantity`` (signed) in ``instrument``, at last ``price``."""
    if not holds(instrument, position_quantity, price):
        return "entry"
    signed = quantity if side is Side.BUY else -quantity
    if (signed > 0) == (position_quantity > 0):
        return "add"
    after = position_quantity + signed
    if after == 0 or is_dust(instrument, after, price):
        return "close"
    if (after > 0) == (position_quantity > 0):
        return "reduce"
    return "flip"
