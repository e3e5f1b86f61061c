"""Positions, with exact Decimal accounting."""

from __future__ import annotations

from decimal import Decimal

import attrs

from tradewind.model.orders import Fill, Side

ZERO = Decimal(0)


@attrs.frozen(kw_only=True)
class Position:
    """A net position in one instrument. ``quantity`` is signed: positive long, negative short."""

    instrument: str
    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    opened_ts_ns: int = 0

    @property
    def is_flat(self) -> bool:
        """True when there is no open quantity."""
        return self.quantity == 0

    @property
    def side(self) -> Side | None:
        """The side of the open quantity, or None when flat."""
        if self.quantity > 0:
            return Side.BUY
        if self.quantity < 0:
            return Side.SELL
        return None

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """P&L of the open quantity at ``mark``."""
        return (mark - self.avg_price) * self.quantity

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill``: average price on increase, realised P&L on reduction."""
        signed = fill.quantity * fill.side.sign
        q = self.quantity
        realized = self.realized_pnl
        avg = self.avg_price
        opened = self.opened_ts_ns
        if q == 0 or (q > 0) == (signed > 0):
            new_q = q + signed
            avg = (avg * abs(q) + fill.price * fill.quantity) / abs(new_q)
            if q == 0:
                opened = fill.ts_ns
        else:
            closing = min(abs(signed), abs(q))
            realized += (fill.price - avg) * closing * (1 if q > 0 else -1)
            new_q = q + signed
            if new_q == 0:
                avg = ZERO
            elif (new_q > 0) != (q > 0):
                # The fill flipped the position: the remainder opens at the fill price.
                avg = fill.price
                opened = fill.ts_ns
        return attrs.evolve(
            self,
            quantity=new_q,
            avg_price=avg,
            realized_pnl=realized,
            fees=self.fees + fill.fee,
            opened_ts_ns=opened,
        )
