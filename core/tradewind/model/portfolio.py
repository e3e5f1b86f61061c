"""Positions, with exact Decimal accounting."""

from __future__ import annotations

from decimal import Decimal, getcontext
from typing import Any

import attrs

from tradewind.model.frozen import builder
from tradewind.model.orders import Fill, Side

ZERO = Decimal(0)
#: The signs as the Decimals a Decimal operation converts the int 1 or -1 to.
_ONE = Decimal(1)
_MINUS_ONE = Decimal(-1)

#: The last :meth:`Position.apply`: ``(position, fill, decimal context, its precision, its
#: rounding, result)``. A paper or backtest fill is applied twice in a row — by the simulated
#: venue, then by the fill booking to the portfolio's position — to positions that are the same
#: object once the portfolio holds the result the venue holds (this memo hands it over).
_last_apply: tuple[Any, ...] = (None, None, None, 0, "", None)


def _same_position(a: Position, b: Position) -> bool:
    """``a`` and ``b`` hold the very same field objects (so :meth:`Position.apply` gives both
    the same result, bit for bit: equal Decimals may differ in their exponent, identical ones
    cannot)."""
    return a is b or (
        a.quantity is b.quantity
        and a.lots is b.lots
        and a.realized_pnl is b.realized_pnl
        and a.fees is b.fees
        and a.avg_price is b.avg_price
        and a.opened_ts_ns == b.opened_ts_ns
        and a.instrument == b.instrument
    )


@attrs.frozen(kw_only=True)
class Position:
    """A net position in one instrument. ``quantity`` is signed: positive long, negative short.

    Accounting is exact: open quantity is kept as FIFO lots ``(quantity, price)``, so realised
    and unrealised P&L are sums of Decimal products with no division. ``avg_price`` is the
    open lots' volume-weighted price, for display and risk (a division, so rounded to the
    Decimal context's 28 significant digits).
    """

    instrument: str
    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    opened_ts_ns: int = 0
    lots: tuple[tuple[Decimal, Decimal], ...] = ()

    @property
    def is_flat(self) -> bool:
        """True when there is no open quantity."""
        return self.quantity == ZERO  # ``== 0`` without the int's conversion per read

    @property
    def side(self) -> Side | None:
        """The side of the open quantity, or None when flat."""
        if self.quantity > 0:
            return Side.BUY
        if self.quantity < 0:
            return Side.SELL
        return None

    @property
    def cost(self) -> Decimal:
        """Signed notional of the open lots at their entry prices (exact)."""
        lots = self.lots
        if len(lots) == 1:  # ``sum(..., ZERO)`` of one lot is ``ZERO + it``, without a generator
            q, p = lots[0]
            return ZERO + q * p
        return sum((q * p for q, p in lots), ZERO)

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """P&L of the open quantity at ``mark`` (exact)."""
        return mark * self.quantity - self.cost

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill``: new lots on increase, FIFO realisation on reduction.

        The same ``fill`` applied again to a position of identical fields in the same decimal
        context returns the result of the last call (the same object; positions are frozen).
        """
        global _last_apply
        last = _last_apply
        # The context is the thread's one object; no operation below replaces it.
        ctx = getcontext()
        if (
            last[1] is fill
            and last[2] is ctx
            and last[3] == ctx.prec
            and last[4] == ctx.rounding
            and (last[0] is self or _same_position(last[0], self))  # (its first test, uncalled)
        ):
            return last[5]  # type: ignore[no-any-return]
        # The same operations on the same operands as always (``fill.net_quantity *
        # fill.side.sign``, the FIFO loop, the two sums); what is saved is the properties'
        # calls, the generators of a one-lot position, and for a Decimal quantity the sign's
        # conversion from int (the Decimal a Decimal operation converts 1 or -1 to).
        price = fill.price
        qty = fill.quantity
        # A Fill's own ``fee_in_quote`` is its fee then (a subclass may compute it otherwise).
        quoted = fill.fee_asset == "quote" and type(fill) is Fill
        if type(qty) is not Decimal or fill.fee_asset == "base":
            signed = fill.net_quantity * fill.side.sign
        else:
            signed = qty * (_ONE if fill.side is Side.BUY else _MINUS_ONE)
        q = self.quantity
        realized = self.realized_pnl
        opened = self.opened_ts_ns
        lots = list(self.lots)
        if q == 0 or (q > 0) == (signed > 0):
            if q == 0:
                opened = fill.ts_ns
            lots.append((signed, price))
        else:
            remaining = signed  # opposite sign to the lots
            while lots and remaining != 0:
                lot_q, lot_p = lots[0]
                take = min(abs(lot_q), abs(remaining))
                # ``take * sign`` computed once for both of its uses (the same operation on the
                # same operands), and for a Decimal ``take`` the sign as the Decimal a Decimal
                # operation converts the int 1 or -1 to (other types keep the int's arithmetic).
                if type(take) is Decimal:
                    sign: Decimal | int = _ONE if lot_q > 0 else _MINUS_ONE
                else:
                    sign = 1 if lot_q > 0 else -1
                realized += (price - lot_p) * take * sign
                taken = take * sign
                lot_q -= taken
                remaining += taken
                if lot_q == 0:
                    lots.pop(0)
                else:
                    lots[0] = (lot_q, lot_p)
            if remaining != 0:
                # The fill flipped the position: the remainder opens at the fill price.
                lots = [(remaining, price)]
                opened = fill.ts_ns
        if len(lots) == 1:  # ``sum(..., ZERO)`` of one lot is ``ZERO + it``
            lq, lp = lots[0]
            new_q = ZERO + lq
            avg = (ZERO + lq * lp) / new_q if new_q else ZERO
        else:
            new_q = sum((lq for lq, _ in lots), ZERO)
            avg = sum((lq * lp for lq, lp in lots), ZERO) / new_q if new_q else ZERO
        # Every field, built directly: attrs.evolve's generic copy is a measurable share of a
        # paper fill (the order manager, the portfolio and the simulated venue each apply it).
        # Through its slots (:func:`~tradewind.model.frozen.builder`): the same object.
        after: Position = _new_position(
            self.instrument,
            new_q,
            avg,
            realized,
            # ``fill.fee_in_quote``: the fee itself for a fee in the quote currency.
            self.fees + (fill.fee if quoted else fill.fee_in_quote),
            opened,
            tuple(lots),
        )
        _last_apply = (self, fill, ctx, ctx.prec, ctx.rounding, after)
        return after


#: ``Position(instrument=..., quantity=..., ...)`` of every field, positionally.
_new_position = builder(
    Position,
    ("instrument", "quantity", "avg_price", "realized_pnl", "fees", "opened_ts_ns", "lots"),
)
