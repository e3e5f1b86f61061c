"""The order that closes a position, by market type (one rule for the engine and for the
venue conformance scenarios that prove a venue can carry it out).

- **perpetual**: reduce-only, for the whole position: it can never open the other side.
- **spot**: a plain order (spot has no reduce-only) for what is held: a long is sold down to
  the account's balance of the base asset, rounded down to the lot; what is left below one
  lot is dust that cannot be sold.
"""

from __future__ import annotations

from decimal import Decimal

from tradewind.model import Instrument, InstrumentKind


def close_terms(
    instrument: Instrument, position_quantity: Decimal, held: Decimal | None = None
) -> tuple[Decimal, bool]:
    """``(quantity, reduce_only)`` of the order closing ``position_quantity`` (signed) of
    ``instrument``; ``held`` is the account's balance of the base asset on spot (None when
    the venue has no account). A quantity of 0 means nothing can be sold."""
    qty = abs(position_quantity)
    if instrument.kind is not InstrumentKind.SPOT:
        return qty, True
    if position_quantity > 0 and held is not None:
        qty = min(qty, held)
    return instrument.round_size(qty), False
