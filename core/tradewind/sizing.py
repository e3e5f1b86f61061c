"""Position sizing: risk a fraction of equity over the stop distance, quantised to the lot."""

from __future__ import annotations

from decimal import Decimal

from tradewind.model import Instrument, Signal


def size_for(
    signal: Signal,
    instrument: Instrument,
    equity: Decimal,
    risk_pct: Decimal,
    max_notional: Decimal | None = None,
) -> Decimal:
    """Quantity risking ``risk_pct`` of ``equity`` if the stop is hit; 0 if below min notional.

    quantity = equity × risk_pct / |entry − stop|, capped so that entry × quantity stays within
    ``max_notional``, rounded down to the lot size.
    """
    dist = abs(signal.entry - signal.stop)
    if dist <= 0 or equity <= 0:
        return Decimal(0)
    qty = equity * risk_pct / dist
    if max_notional is not None and qty * signal.entry > max_notional:
        qty = max_notional / signal.entry
    qty = instrument.round_size(qty)
    if qty <= 0 or qty * signal.entry < instrument.min_notional:
        return Decimal(0)
    return qty
